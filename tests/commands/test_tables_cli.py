"""The CLI's tables at 80 columns: `history`, `status`, `operations list`, `schedule list`,
`subscribers list` and `zones list` on the demo town with long neighbourhood names: no line
wider than the terminal, nothing cut with an ellipsis, times local and written for people in
the operator's language, while --json keeps ISO 8601 with offsets; `subscribers list` shows
a screenful and says how many more."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.core.local_time import human_time
from cli import main
from tests.commands.conftest import cli_workspace

TZ = ZoneInfo("America/Toronto")
# Two long names as a real layer has them: one with spaces, one a single hyphenated word.
RIVIERE = "Saint-Louis-de-France–Les Saules du Vieux-Moulin et de la Rivière"
CHARLES = "Haute-Saint-Charles—Val-Bélair-Nord-et-Lac-Saint-Joseph-Est"
TEXT = (
    "Déneigement ce soir dans tous les quartiers: stationnement interdit dans la rue de "
    "19 h à 7 h, sous peine de remorquage. ARRET pour vous désabonner."
)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
HUMAN = {
    "fr": re.compile(r"\b(lun|mar|mer|jeu|ven|sam|dim)\. \d{1,2}(er)? \S+( \d{4},)? 19 h\b"),
    "en": re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d{1,2},( \d{4},)? 7 p\.m\."),
}


def _square(n: int) -> dict[str, Any]:
    x, y = -71.0 + n * 0.02, 46.5
    ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def town_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database of the demo town and two long-named zones, 55 subscribers, a sent
    alert and a planned operation, made once through the CLI (copied for each test)."""
    from alerts.demo.run import DEMO_LAYER

    folder = tmp_path_factory.mktemp("town")
    layer = json.loads(Path(DEMO_LAYER).read_text(encoding="utf-8"))
    for n, name in enumerate((RIVIERE, CHARLES)):
        layer["features"].append(
            {"type": "Feature", "properties": {"NOM": name}, "geometry": _square(n)}
        )
    (folder / "layer.geojson").write_text(json.dumps(layer), encoding="utf-8")
    rows = ["phone,zone,lang"]
    rows += [f"+1418555{n:04d},Saint-Éloi,{'fr' if n % 2 else 'en'}" for n in range(50)]
    rows += [f"+1418556{n:04d},{RIVIERE},fr" for n in range(4)]
    (folder / "subscribers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    start = (datetime.now(TZ) + timedelta(days=2)).replace(hour=19, minute=0, second=0)
    end = start + timedelta(hours=12)
    with pytest.MonkeyPatch.context() as monkeypatch:
        cli_workspace(
            monkeypatch, folder, f"sqlite:///{folder / 'town.db'}", file_gateway="outbox.jsonl",
            demo_town=False,
        )  # fmt: skip
        steps = [
            ["zones", "import", str(folder / "layer.geojson")],
            ["subscribers", "import", str(folder / "subscribers.csv")],
            ["subscribers", "add", "4185570000", "--zone", CHARLES, "--lang", "en"],
            ["send", "--kind", "info", "--all", "--message", TEXT, "--yes", "--queue-only"],
            [
                # One long name: two would take the notice over two SMS segments.
                "operations", "add", "--kind", "snow", "--zone", RIVIERE,
                "--start", f"{start:%Y-%m-%d %H:%M}", "--end", f"{end:%Y-%m-%d %H:%M}",
            ],
        ]  # fmt: skip
        for step in steps:
            assert main(step) == 0, step
    return folder / "town.db"


@pytest.fixture(params=["fr", "en"])
def lang(
    request: pytest.FixtureRequest,
    town_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """An 80-column terminal on a copy of the town, the operator speaking `lang`."""
    copy = tmp_path / "town.db"
    copy.write_bytes(town_db.read_bytes())
    cli_workspace(
        monkeypatch, tmp_path, f"sqlite:///{copy}", demo_town=False,
        ALERTS_OPERATOR_LANGUAGE=str(request.param), COLUMNS="80",
    )  # fmt: skip
    capsys.readouterr()
    return str(request.param)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def assert_fits(out: str) -> None:
    assert "…" not in out and "..." not in out, out
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert not wide, "\n".join(wide)


def shown(moment: str, lang: str) -> str:
    """How an ISO time of the JSON reads in a table."""
    return human_time(datetime.fromisoformat(moment), TZ, lang, now=datetime.now(UTC))


def test_zones_list_fits_with_the_longest_names(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "zones", "list")
    assert_fits(out)
    assert "Haute-Ville—Colline-du-Fort" in out  # the demo's longest name, whole on its line
    assert "Saint-Louis-de-France–Les Saules du Vieux-Moulin et de la" in out
    # The one-word name breaks after a dash, and nowhere inside a word.
    assert "Haute-Saint-Charles—Val-Bélair-Nord-et-Lac-Saint-Joseph-Est" in out or (
        re.search(r"Haute-Saint-Charles—\S*\s+(?:\S+\s+)*?Val-", out)
    )
    listed = json.loads(run(capsys, "zones", "list", "--json"))
    assert set(listed[0]) == {"name", "slug", "area_km2", "subscribers"}


def test_history_shows_local_human_times_and_the_whole_text(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "history")
    assert_fits(out)
    (alert,) = json.loads(run(capsys, "history", "--json"))
    assert ISO.match(alert["created_at"])
    assert shown(alert["created_at"], lang) in out
    assert alert["created_at"] not in out
    assert " ".join(TEXT.split()) in " ".join(out.split())  # wrapped, never cut


def test_status_lists_each_zone_within_80_columns(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "status", "1")
    assert_fits(out)
    document = json.loads(run(capsys, "status", "1", "--json"))
    assert ISO.match(document["created_at"]) and shown(document["created_at"], lang) in out
    assert document["by_zone"][RIVIERE] == {"queued": 4}
    assert re.search(r"Saint-Éloi\s+50\b", out)
    assert re.search(r"Joseph-Est\s+1\b", out)


def test_operations_list_writes_start_and_end_for_people(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "operations", "list")
    assert_fits(out)
    (operation,) = json.loads(run(capsys, "operations", "list", "--json"))
    assert ISO.match(operation["start"]) and ISO.match(operation["end"])
    assert shown(operation["start"], lang) in out
    assert shown(operation["end"], lang) in out
    assert HUMAN[lang].search(out), out  # "jeu. 3 déc. 19 h" / "Thu Dec 3, 7 p.m."
    assert "notice scheduled" in out


def test_schedule_list_writes_due_times_for_people(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "schedule", "list")
    assert_fits(out)
    found = json.loads(run(capsys, "schedule", "list", "--json"))
    assert set(found) == {"notices", "recurring"}
    dues = [notice["due"] for notice in found["notices"]]
    assert len(dues) == 3 and all(ISO.match(due) for due in dues)
    for due in dues:
        assert shown(due, lang) in out


def test_the_same_time_reads_in_each_language(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "operations", "list")
    if lang == "fr":
        assert " h" in out and "p.m." not in out
        assert re.search(r"\b(lun|mar|mer|jeu|ven|sam|dim)\. ", out)
    else:
        assert "p.m." in out and not re.search(r"\d h\b", out)
        assert re.search(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ", out)


def test_subscribers_list_shows_a_screenful_and_how_many_more(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "subscribers", "list")
    assert_fits(out)
    assert out.count("+1******") == 50
    assert out.rstrip().endswith("50 subscriber(s) shown, and 5 more: --limit N or --all")
    every = run(capsys, "subscribers", "list", "--all")
    assert_fits(every)
    assert every.count("+1******") == 55 and every.rstrip().endswith("55 subscriber(s)")
    assert "Joseph-Est" in every and "Vieux-Moulin" in every
    few = run(capsys, "subscribers", "list", "--limit", "3", "--include-phones")
    assert few.count("+1418555") == 3 and "and 52 more" in few


def test_subscribers_list_limits_the_json_too(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribers", "list", "--limit", "5", "--json"]) == 0
    captured = capsys.readouterr()
    listed = json.loads(captured.out)
    assert [view["phone"] for view in listed] == [f"+1******{n:04d}" for n in range(5)]
    assert {"phone", "status", "lang", "zones", "topics"} <= set(listed[0])
    assert "and 50 more: --limit N or --all" in captured.err
    assert len(json.loads(run(capsys, "subscribers", "list", "--json"))) == 50
    assert len(json.loads(run(capsys, "subscribers", "list", "--all", "--json"))) == 55
    in_zone = json.loads(run(capsys, "subscribers", "list", "--zone", RIVIERE, "--json"))
    assert len(in_zone) == 4


def test_limit_and_all_together_are_a_usage_error(
    lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribers", "list", "--all", "--limit", "5"]) == 2
    assert "--limit N or --all" in capsys.readouterr().err
    assert main(["subscribers", "list", "--limit", "0"]) == 2
