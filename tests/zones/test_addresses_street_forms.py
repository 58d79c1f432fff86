"""Québec street forms: a leading St, Ste, St- or Ste- is Saint or Sainte (not the English
street type, nor the ordinal "1st" when it follows the civic number), and a trailing E, O, N,
S is Est, Ouest, Nord, Sud. They resolve like their full spelling: in the parser, against
small made-up streets, against the real Québec address points, in the SMS conversation and
in `alerts zones locate --address`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.shared_data import data_file
from zones import AddressPoint, Gazetteer, ZoneLayer, parse_address, read_address_points
from zones.geocode import resolve_place


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("12 St-Jean E", "12 rue Saint-Jean Est"),
        ("12 st jean e", "12 Saint-Jean Est"),
        ("12 St. Jean E.", "12 Saint-Jean Est"),
        ("12 St-Jean", "12 Saint-Jean"),
        ("45 ste-foy", "45 Sainte-Foy"),
        ("45 Ste-Foy O", "45 Sainte-Foy Ouest"),
        ("45 Ste Anne N", "45 Sainte-Anne Nord"),
        ("45 St-Cyrille S", "45 Saint-Cyrille Sud"),
        ("350 St-Joseph E", "350 Saint-Joseph Est"),
        ("350 St-Joseph O", "350 Saint-Joseph Ouest"),
        ("1645 St-Louis", "1645 Saint-Louis"),
        ("St-Jean E 12", "Saint-Jean Est 12"),
        ("12 rue St-Jean E", "12 rue Saint-Jean Est"),
        ("12 St-Jean St E", "12 rue Saint-Jean Est"),  # the trailing St is the street type
    ],
)
def test_saint_and_directions_parse_like_their_full_spelling(short: str, full: str) -> None:
    parsed, expected = parse_address(short), parse_address(full)
    assert expected is not None
    assert parsed is not None, short
    assert (parsed.number, parsed.parts.core, parsed.parts.direction) == (
        expected.number,
        expected.parts.core,
        expected.parts.direction,
    )
    assert parsed.parts.core.startswith(("saint", "sainte")), parsed.parts


@pytest.mark.parametrize("text", ["76e Rue", "3 e Avenue", "1st Avenue", "2nd Ave"])
def test_ordinal_streets_without_a_civic_number_are_still_not_addresses(text: str) -> None:
    assert parse_address(text) is None


def test_st_after_a_number_is_saint_not_an_ordinal() -> None:
    parsed = parse_address("12 St-Jean")
    assert parsed is not None and (parsed.number, parsed.street) == (12, "saint jean")
    ordinal = parse_address("1234 1st Avenue")
    assert ordinal is not None and ordinal.street == "avenue 1"


# Made-up streets, a few metres apart: each answer names the one street it must be.
STREETS = [
    AddressPoint(12, "", "Rue Saint-Jean", -71.2000, 46.8000),
    AddressPoint(14, "", "Rue Saint-Jean", -71.2001, 46.8000),
    AddressPoint(12, "", "Rue Jean", -71.3000, 46.9000),
    AddressPoint(350, "", "Rue Saint-Joseph Est", -71.2100, 46.8100),
    AddressPoint(350, "", "Rue Saint-Joseph Ouest", -71.2200, 46.8100),
    AddressPoint(45, "", "Chemin Sainte-Foy", -71.2300, 46.8200),
    AddressPoint(45, "", "Rue Foy", -71.3300, 46.9200),
]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("12 St-Jean", "12 Rue Saint-Jean"),
        ("12 st-jean", "12 Rue Saint-Jean"),
        ("12 Jean St", "12 Rue Jean"),  # a trailing St is the English street type
        ("350 St-Joseph E", "350 Rue Saint-Joseph Est"),
        ("350 st joseph e", "350 Rue Saint-Joseph Est"),
        ("350 St-Joseph O", "350 Rue Saint-Joseph Ouest"),
        ("350 St-Joseph W", "350 Rue Saint-Joseph Ouest"),
        ("45 ste-foy", "45 Chemin Sainte-Foy"),
        ("45 Ste-Foy", "45 Chemin Sainte-Foy"),
        ("45 Foy St", "45 Rue Foy"),
    ],
)
def test_small_gazetteer_finds_the_street_meant(text: str, label: str) -> None:
    found = Gazetteer(STREETS).geocode(text)
    assert found and found[0].label == label and found[0].exact_number, (text, found[:2])
    assert found[0].score >= 95.0


# Real Québec address points: the short form and the full one land on the same point.
QUEBEC_FORMS = [
    ("350 St-Joseph E", "350 rue Saint-Joseph Est", "Saint-Roch"),
    ("399 st-joseph e", "399 Rue Saint-Joseph Est", "Saint-Roch"),
    ("140 St-Jean", "140 rue Saint-Jean", "Saint-Jean-Baptiste"),
    ("12 St-Jean E", "12 rue Saint-Jean Est", "Saint-Jean-Baptiste"),
    ("2825 ste-foy", "2825 chemin Sainte-Foy", "Cité-Universitaire"),
    ("45 ste-foy", "45 chemin Sainte-Foy", None),
    ("12 Ste-Anne", "12 rue Sainte-Anne", None),
    ("1645 St-Louis", "1645 chemin Saint-Louis", "Sillery"),
    ("40 St. Stanislas", "40 rue Saint-Stanislas", None),
    ("215 St-Yves", "215 rue Saint-Yves", "L'Aéroport"),
    ("1120 René-Lévesque O", "1120 boulevard René-Lévesque Ouest", "Saint-Sacrement"),
    ("1829 Pie-XI N", "1829 boulevard Pie-XI Nord", "Val-Bélair"),
    ("1500 Rive-Boisée S", "1500 rue de la Rive-Boisée Sud", None),
    ("301 Peupliers E", "301 rue des Peupliers Est", "Lairet"),
]


@pytest.fixture(scope="module")
def quebec_places() -> tuple[ZoneLayer, Gazetteer]:
    layer = ZoneLayer.from_file(data_file("quebec/vdq-quartier.geojson"))
    points = read_address_points(data_file("quebec/quebec_address_points.csv"))
    return layer, Gazetteer(points)


@pytest.mark.parametrize(("short", "full", "quartier"), QUEBEC_FORMS)
def test_real_quebec_addresses_resolve_like_their_full_spelling(
    quebec_places: tuple[ZoneLayer, Gazetteer], short: str, full: str, quartier: str | None
) -> None:
    layer, gazetteer = quebec_places
    got, want = resolve_place(short, layer, gazetteer), resolve_place(full, layer, gazetteer)
    assert want.kind == "address" and want.zone is not None
    assert got.kind == "address", (short, got)
    assert got.zone is not None and got.zone.name == want.zone.name, (short, got.matched)
    assert got.matched == want.matched  # the same civic address
    if quartier is not None:
        assert got.zone.name == quartier


# End to end: the SMS conversation and `alerts zones locate --address`, on the real layers.
E2E = [(short, full) for short, full, _ in QUEBEC_FORMS[:6]]


@pytest.fixture
def quebec_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the real Québec layer and addresses imported by the CLI."""
    from cli import main

    layer = data_file("quebec/vdq-quartier.geojson")
    points = data_file("quebec/quebec_address_points.csv")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("ALERTS_") and name != "ALERTS_REQUIRE_POSTGRES":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'quebec.db'}")
    monkeypatch.setenv("ALERTS_TIMEZONE", "America/Toronto")
    assert main(["zones", "import", str(layer)]) == 0
    assert main(["addresses", "import", str(points)]) == 0
    return tmp_path


def test_zones_locate_reads_the_short_forms(
    quebec_cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    def locate(text: str) -> dict[str, object]:
        capsys.readouterr()
        assert main(["zones", "locate", "--address", text, "--json"]) == 0
        found = json.loads(capsys.readouterr().out)
        assert isinstance(found, dict)
        return found

    for short, full in E2E:
        got, want = locate(short), locate(full)
        assert want["zone"] is not None
        assert (got["zone"], got["matched"]) == (want["zone"], want["matched"]), short


def test_the_sms_conversation_reads_the_short_forms(quebec_cli: Path) -> None:
    from alerts.config import load_settings
    from alerts.sms.conversation import handle_inbound
    from alerts.sms.turn import InboundSms
    from alerts.subscribers.subscribers import show_subscriber
    from alerts.wiring import build

    services = build(load_settings(None))
    try:
        for n, (short, full) in enumerate(E2E):
            zones = []
            for k, text in enumerate((short, full)):
                phone = f"+1418555{n:02d}{k:02d}"
                sid = f"SMstreet{n:02d}{k:02d}{'0' * 20}"
                outcome = handle_inbound(services, InboundSms(phone, f"ABONNER {text}", sid))
                assert outcome.action != "not_found", (text, outcome)
                handle_inbound(services, InboundSms(phone, "OUI", sid + "y"))
                zones.append(show_subscriber(services, phone).zones)
            assert zones[0] == zones[1] and zones[0], (short, zones)
    finally:
        services.close()
