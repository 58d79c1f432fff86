"""`operations add` and `operations show` preview the texts to come, like `send` does:
each notice's French and English texts with their segments, the recipients reached now by
language, and the segments and cost of what is left to send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerts.demo.run import DEMO_LAYER
from cli import main
from tests.commands.conftest import cli_workspace

PRICE = 0.0083  # send.price_per_segment's default
OPERATION = [
    "operations", "add", "--kind", "snow", "--zone", "Côte-Blanche",
    "--start", "2099-12-03 19:00", "--end", "2099-12-04 07:00",
]  # fmt: skip


@pytest.fixture
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo town with residents of Côte-Blanche in both languages (and one elsewhere)."""
    cli_workspace(monkeypatch, tmp_path, ALERTS_OPERATOR_LANGUAGE="fr", COLUMNS="80")
    for phone, zone, lang in (
        ("4185550101", "Côte-Blanche", "fr"),
        ("4185550102", "Côte-Blanche", "fr"),
        ("4185550103", "Côte-Blanche", "en"),
        ("4185550104", "Lac-Doré", "en"),
    ):
        assert main(["subscribers", "add", phone, "--zone", zone, "--lang", lang]) == 0
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    found = json.loads(out)
    assert isinstance(found, dict)
    return found


def test_add_json_gives_each_notice_its_texts_segments_and_cost(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planned = _json(capsys, *OPERATION, "--json")
    # The keys operations add printed before are all still there.
    assert set(planned) >= {"id", "kind", "start", "end", "zones", "location", "status"}
    assert planned["start"] == "2099-12-03T19:00:00-05:00"
    assert planned["recipients"] == 3 and planned["by_lang"] == {"fr": 2, "en": 1}
    notices = {notice["kind"]: notice for notice in planned["notices"]}
    assert set(notices) == {"notice", "reminder", "all_clear"}
    notice = notices["notice"]
    assert notice["due"] == "2099-12-03T17:00:00-05:00" and notice["template"] == "snow"
    assert notice["text"]["fr"].startswith("Alertes de quartier, Cote-Blanche: opération de")
    assert "jeudi 3 décembre à 19 h" in notice["text"]["fr"]
    assert "Thursday, December 3 at 7 p.m." in notice["text"]["en"]
    assert notice["replaced"] == {"ô": "o"}  # operations' notices keep to GSM-7
    assert notices["reminder"]["segments"] == {"fr": 2, "en": 1}
    total = 0
    for entry in notices.values():
        assert entry["encoding"] == {"fr": "GSM-7", "en": "GSM-7"}
        expected = 2 * entry["segments"]["fr"] + 1 * entry["segments"]["en"]
        assert entry["recipients"] == 3 and entry["total_segments"] == expected
        assert entry["estimated_cost"] == round(expected * PRICE, 2)
        total += expected
    assert planned["total_segments"] == total == 14
    assert planned["estimated_cost"] == round(total * PRICE, 2) and planned["currency"] == "USD"
    assert planned["preview_error"] is None
    assert _json(capsys, "operations", "show", str(planned["id"]), "--json") == planned


def test_show_prints_both_languages_recipients_and_cost_within_80_columns(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(OPERATION) == 0
    added = capsys.readouterr().out
    assert main(["operations", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert out == added  # add previews exactly what show shows
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in out
    # Times local and for people, in the operator's language.
    assert (
        lines[0] == "Operation 1 (snow, planned): jeu. 3 déc. 2099, 19 h -> ven. 4 déc. 2099, 7 h"
    )
    assert "  recipients now: 3 (fr 2, en 1)" in lines
    assert "  notice     jeu. 3 déc. 2099, 17 h     scheduled" in lines  # aligned dues
    assert "  reminder   jeu. 3 déc. 2099, 18 h 30  scheduled" in lines
    assert "    fr (GSM-7, 2 segments): Alertes de quartier, Cote-Blanche: rappel," in lines
    assert "    en (GSM-7, 1 segment): Neighbourhood Alerts, Cote-Blanche: reminder, no" in lines
    flat = " ".join(out.split())
    assert "snow removal starting Thursday, December 3 at 7 p.m." in flat
    assert "3 recipients, 5 segments, about 0.04 USD" in flat  # the reminder: 2x2 + 1x1
    assert lines[-1] == "  to come: 14 segments, about 0.12 USD"


def test_cancelled_operation_has_nothing_left_to_send(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*OPERATION, "--no-all-clear"]) == 0
    assert main(["operations", "cancel", "1"]) == 0
    shown = _json(capsys, "operations", "show", "1", "--json")
    assert all(notice["text"] is None for notice in shown["notices"])
    assert (shown["total_segments"], shown["estimated_cost"]) == (0, 0.0)
    assert shown["recipients"] == 3  # whom the zones reach now, still said
    assert main(["operations", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "  nothing left to send" and "fr (" not in out


def test_a_zone_gone_from_the_layer_is_said_not_a_failure(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(OPERATION) == 0
    layer = json.loads(DEMO_LAYER.read_text(encoding="utf-8"))
    layer["features"] = [f for f in layer["features"] if f["properties"]["NOM"] != "Côte-Blanche"]
    smaller = town / "smaller.geojson"
    smaller.write_text(json.dumps(layer), encoding="utf-8")
    assert main(["zones", "import", str(smaller), "--replace", "--yes"]) == 0
    shown = _json(capsys, "operations", "show", "1", "--json")
    assert "Côte-Blanche" in shown["preview_error"]
    assert shown["recipients"] is None and shown["total_segments"] == 0
    assert main(["operations", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "texts unavailable: " in out and "Côte-Blanche" in out
