"""The zone layer and the gazetteer in the database: import, re-import, locate, bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlmodel import select

from alerts.errors import UsageError
from alerts.places.layers import address_count, import_addresses, import_zones
from alerts.places.places import locate_point, locate_text
from alerts.places.zone_list import list_zones
from alerts.storage.models import Subscription
from alerts.subscribers.subscribers import add_subscriber, list_subscribers, show_subscriber
from alerts.wiring import Services
from tests.support.shared_data import DATA
from zones.errors import AddressFileError, LayerError

# The tests reading these ask for the shared_data fixture (through `quebec` or directly).
QUEBEC = DATA / "quebec"
MONTREAL = DATA / "montreal"


@pytest.fixture
def quebec(services: Services, shared_data: Path) -> Services:
    """Services with Québec's 35 quartiers and its address points."""
    import_zones(services, str(QUEBEC / "vdq-quartier.geojson"))
    import_addresses(services, QUEBEC / "quebec_address_points.csv")
    return services


def test_quebec_layer_and_addresses_import(quebec: Services) -> None:
    zones = list_zones(quebec)
    assert len(zones) == 35
    assert "Vieux-Québec—Cap-Blanc—Colline parlementaire" in {z.name for z in zones}
    assert address_count(quebec) == 932
    sillery = next(z for z in zones if z.name == "Sillery")
    assert sillery.slug == "sillery" and abs(sillery.area_km2 - 7.58) < 0.05


def test_a_second_import_needs_replace(quebec: Services) -> None:
    with pytest.raises(UsageError, match="--replace"):
        import_zones(quebec, str(QUEBEC / "vdq-quartier.geojson"))


def test_locate_points_addresses_and_names(quebec: Services) -> None:
    assert (
        locate_point(quebec, 46.8123, -71.2060)["zone"]
        == "Vieux-Québec—Cap-Blanc—Colline parlementaire"
    )
    assert locate_point(quebec, 45.50, -73.56) == {"zone": None, "distance_m": None}
    with (QUEBEC / "quebec_address_points.csv").open(encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["RUE"].startswith("Avenue Monseigneur"))
    found = locate_text(quebec, f"{row['NO_CIVIQUE']} av. monseigneur-gosselin")
    assert found["zone"] == row["quartier_pip"]
    assert found["lat"] is not None and found["matched"]
    assert locate_text(quebec, "lebourgneuf")["zone"] == "Neufchatel Est—Lebourgneuf"
    vague = locate_text(quebec, "vieux")
    assert vague["zone"] is None and len(vague["candidates"]) >= 3  # type: ignore[arg-type]
    link = locate_text(quebec, "https://www.google.com/maps/@46.8123,-71.2060,15z")
    assert link["zone"] == "Vieux-Québec—Cap-Blanc—Colline parlementaire"


def test_replace_rematches_stored_points_and_keeps_every_subscription(quebec: Services) -> None:
    add_subscriber(quebec, "4185550101", at="46.8123,-71.2060")  # Vieux-Québec, a point
    add_subscriber(quebec, "4185550101", zone="Saint-Roch")  # no point
    add_subscriber(quebec, "4185550102", at="46.7800,-71.2750")  # Sainte-Foy area, a point
    add_subscriber(quebec, "4185550103", zone="Vieux-Québec")  # no point
    result = import_zones(quebec, str(QUEBEC / "vdq-arrondissement.geojson"), replace=True)
    assert result.imported == 6
    rematch = result.rematch
    assert rematch is not None
    assert (rematch.moved, rematch.outside, rematch.orphaned) == (2, 0, 2)
    assert rematch.subscribers_moved == 2
    assert show_subscriber(quebec, "4185550101").zones == ["La Cité-Limoilou"]
    assert show_subscriber(quebec, "4185550102").zones == ["Sainte-Foy–Sillery–Cap-Rouge"]
    with quebec.session(read_only=True) as session:
        assert len(session.exec(select(Subscription)).all()) == 4  # none dropped
    back = import_zones(quebec, str(QUEBEC / "vdq-quartier.geojson"), replace=True)
    assert back.rematch is not None
    assert (back.rematch.moved, back.rematch.relinked, back.rematch.without_zone) == (2, 2, 0)
    assert show_subscriber(quebec, "4185550101").zones == [
        "Vieux-Québec—Cap-Blanc—Colline parlementaire",
        "Saint-Roch",  # by the zone name it was made with
    ]
    assert show_subscriber(quebec, "4185550103").zones == [
        "Vieux-Québec—Cap-Blanc—Colline parlementaire"
    ]


def test_subscriptions_left_outside_are_reported_at_every_import_until_they_fit(
    quebec: Services,
) -> None:
    add_subscriber(quebec, "4185550101", at="46.8123,-71.2060")  # Vieux-Québec, a point
    add_subscriber(quebec, "4185550102", zone="Saint-Roch")  # no point
    montreal = str(MONTREAL / "limites-administratives-agglomeration.geojson")
    for _ in range(2):  # a layer of another city: both are stranded, and stay reported
        rematch = import_zones(quebec, montreal, replace=True).rematch
        assert rematch is not None
        assert (rematch.outside, rematch.orphaned, rematch.subscribers_outside) == (1, 1, 1)
    with quebec.session(read_only=True) as session:
        assert len(session.exec(select(Subscription)).all()) == 2  # none dropped
    stranded = list(list_subscribers(quebec, without_zone=True, include_phones=True))
    assert sorted(view.phone for view in stranded) == ["+14185550101", "+14185550102"]
    back = import_zones(quebec, str(QUEBEC / "vdq-quartier.geojson"), replace=True).rematch
    assert back is not None and (back.moved, back.outside, back.orphaned) == (1, 0, 0)
    assert back.relinked == 1  # the one without a point, by the zone name it was made with
    assert show_subscriber(quebec, "4185550101").zones == [
        "Vieux-Québec—Cap-Blanc—Colline parlementaire"
    ]
    assert show_subscriber(quebec, "4185550102").zones == ["Saint-Roch"]
    assert list(list_subscribers(quebec, without_zone=True)) == []


def test_replace_merges_two_points_that_land_in_one_zone(quebec: Services) -> None:
    add_subscriber(quebec, "4185550101", at="46.8123,-71.2060")  # Vieux-Québec
    add_subscriber(quebec, "4185550101", at="46.8170,-71.2250")  # Saint-Roch
    result = import_zones(quebec, str(QUEBEC / "vdq-arrondissement.geojson"), replace=True)
    assert result.rematch is not None
    assert (result.rematch.moved, result.rematch.merged) == (1, 1)
    assert show_subscriber(quebec, "4185550101").zones == ["La Cité-Limoilou"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "JSON"),
        ('{"type": "FeatureCollection", "features": []}', "no"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            '{"NOM": "A"}, "geometry": {"type": "Point", "coordinates": [-71.2, 46.8]}}]}',
            "polygon",
        ),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            '{"ID": 1}, "geometry": {"type": "Polygon", "coordinates": '
            "[[[-71.2, 46.8], [-71.1, 46.8], [-71.1, 46.9], [-71.2, 46.8]]]}}]}",
            "name",
        ),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            '{"NOM": "A"}, "geometry": {"type": "Polygon", "coordinates": '
            "[[[250000, 5180000], [251000, 5180000], [251000, 5181000], [250000, 5180000]]]}}]}",
            "--crs",
        ),
    ],
)
def test_malformed_layers_change_nothing(
    quebec: Services, tmp_path: Path, content: str, expected: str
) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text(content)
    with pytest.raises(LayerError) as caught:
        import_zones(quebec, str(bad), replace=True)
    assert expected.lower() in str(caught.value).lower()
    assert "\n" not in str(caught.value)
    assert len(list_zones(quebec)) == 35


def test_malformed_address_file_changes_nothing(quebec: Services, tmp_path: Path) -> None:
    bad = tmp_path / "addresses.csv"
    bad.write_text("NO_CIVIQUE,RUE,lon,lat\n12,Rue A,-71.2,46.8\nabc,Rue B,-71.2,46.8\n")
    with pytest.raises(AddressFileError, match="line 3"):
        import_addresses(quebec, bad)
    missing = tmp_path / "nocolumns.csv"
    missing.write_text("a,b\n1,2\n")
    with pytest.raises(AddressFileError, match="civic number"):
        import_addresses(quebec, missing)
    assert address_count(quebec) == 932


def test_locate_batch_through_the_cli(
    quebec: Services,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli import main

    monkeypatch.setenv("ALERTS_DATABASE_URL", quebec.settings.database.url)
    monkeypatch.chdir(tmp_path)
    queries = tmp_path / "queries.txt"
    queries.write_text(
        "46.8123,-71.2060\n"
        "https://www.openstreetmap.org/#map=16/46.8123/-71.2060\n"
        "Atlantis\n"
        "lebourgneuf\n"
    )
    assert main(["zones", "locate", "--batch", str(queries)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["query"] for line in lines] == queries.read_text().splitlines()
    assert lines[0]["zone"] == lines[1]["zone"] == "Vieux-Québec—Cap-Blanc—Colline parlementaire"
    assert lines[2]["zone"] is None and "Atlantis" in lines[2]["error"]
    assert lines[3]["zone"] == "Neufchatel Est—Lebourgneuf"
    assert main(["zones", "locate", "46.8123", "-71.2060", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "zone": "Vieux-Québec—Cap-Blanc—Colline parlementaire",
        "distance_m": 0.0,
    }
    assert main(["zones", "locate", "--address", "vieux", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["candidates"]) >= 3
    assert main(["zones", "locate", "46.8"]) == 2
    assert "LAT LON" in capsys.readouterr().err


def test_import_reports_counts_through_the_cli(
    services: Services,
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli import main

    monkeypatch.setenv("ALERTS_DATABASE_URL", services.settings.database.url)
    monkeypatch.chdir(tmp_path)
    montreal = MONTREAL / "quartierreferencehabitation.geojson"
    assert main(["zones", "import", str(montreal), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "imported": 91,
        "repaired": 6,
        "skipped": 0,
        "crs": "OGC:CRS84",
        "warnings": [],
    }
    projected = MONTREAL / "limites-administratives-agglomeration-nad83.geojson"
    assert main(["zones", "import", str(projected), "--replace", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["imported"] == 34 and "32188" in report["crs"]
    flat = {"type": "Polygon", "coordinates": [[[-71.2, 46.8], [-71.1, 46.8], [-71.2, 46.8]]]}
    square = {"type": "Polygon", "coordinates": [[[-71.2, 46.8], [-71.1, 46.8], [-71.1, 46.9],
                                                  [-71.2, 46.9], [-71.2, 46.8]]]}  # fmt: skip
    with_flat = tmp_path / "with-flat.geojson"
    with_flat.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"nom": name}, "geometry": geometry}
        for name, geometry in (("Carré", square), ("Plat", flat))
    ]}))  # fmt: skip
    assert main(["zones", "import", str(with_flat), "--replace", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["imported"], report["skipped"]) == (1, 1)
    assert any("'Plat'" in warning for warning in report["warnings"])  # named in --json too
    assert main(["zones", "import", str(projected), "--replace", "--json"]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken.geojson"
    broken.write_text("{")
    assert main(["zones", "import", str(broken), "--replace"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken.geojson" in err
    assert main(["zones", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 34


def test_aliases_from_config_and_a_bad_alias(services: Services) -> None:
    from alerts.demo.run import DEMO_LAYER
    from alerts.errors import ConfigError
    from alerts.places.places import zone_by_name
    from alerts.wiring import build

    import_zones(services, str(DEMO_LAYER))
    aliased = build(
        services.settings.with_overrides(
            **{"zones.aliases": {"Le Fort": "Haute-Ville—Colline-du-Fort"}}
        )
    )
    assert zone_by_name(aliased, "le fort").zone_name == "Haute-Ville—Colline-du-Fort"
    aliased.close()
    broken = build(services.settings.with_overrides(**{"zones.aliases": {"Le Fort": "Fort Knox"}}))
    with pytest.raises(ConfigError, match=r"zones\.aliases.*Fort Knox"):
        zone_by_name(broken, "le fort")
    broken.close()
