"""`alerts subscribers ...` prints data as text: zone names holding console markup or control
characters, put straight into the database, neither crash a command nor reach the terminal
as markup or control; the CSV export holds no formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from alerts.subscribers.subscriber_import import spreadsheet_safe
from cli import main
from tests.commands.conftest import cli_workspace
from tests.support import hostile

CÔTE = "47.0395,-71.3220"  # a point in Côte-Blanche
NAMES = [hostile.MARKUP, hostile.CLOSING, hostile.BELL, hostile.ESCAPE, hostile.FORMULA,
         hostile.NUL]  # fmt: skip


@pytest.fixture
def cli_db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working folder on the test database, with the demo town's zones."""
    cli_workspace(monkeypatch, tmp_path, database_url)
    return database_url


@pytest.fixture(params=NAMES, ids=repr)
def name(request: pytest.FixtureRequest, cli_db: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Côte-Blanche renamed in the database to a hostile name."""
    if request.param not in hostile.names_for(cli_db):
        pytest.skip("PostgreSQL text cannot hold NUL")
    hostile.rename_zone(cli_db, "Côte-Blanche", request.param)
    capsys.readouterr()
    return str(request.param)


def shown(name: str) -> str:
    """How the terminal shows the name: every character but the control ones."""
    return "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in name)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    return captured.out


def assert_plain(out: str, name: str) -> None:
    assert shown(name) in out, out
    assert not any(ch in out for ch in "\x00\x07\x1b"), repr(out)


def test_add_show_and_list_print_a_hostile_name_as_it_is(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_plain(run(capsys, "subscribers", "add", "4185550123", "--at", CÔTE), name)
    assert_plain(run(capsys, "subscribers", "show", "4185550123"), name)
    assert_plain(run(capsys, "subscribers", "list"), name)
    assert_plain(run(capsys, "subscribers", "list", "--include-phones"), name)


def test_the_export_holds_no_formula(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "subscribers", "add", "4185550123", "--at", CÔTE)
    run(capsys, "subscribers", "add", "4185550124", "--zone", "Lac-Doré")
    for extra in ([], ["--include-phones"]):
        assert main(["subscribers", "export", *extra]) == 0
        captured = capsys.readouterr()
        # Masked numbers are said on stderr not to re-import; stdout is the file alone.
        assert ("cannot be imported again" in captured.err) == (not extra)
        out = captured.out
        rows = list(csv.DictReader(io.StringIO(out)))
        assert len(rows) == 2
        for row in rows:
            for column, cell in row.items():
                if column == "phone":
                    assert cell.startswith("+") and not cell.startswith("'")  # left as it is
                else:
                    assert not cell.startswith(hostile.FORMULA_STARTS), (column, cell)
        zones = {row["zone"] for row in rows}
        assert zones == {spreadsheet_safe(name), "Lac-Doré"}


def test_the_export_round_trips_a_formula_like_name(
    cli_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hostile.rename_zone(cli_db, "Côte-Blanche", hostile.FORMULA)
    run(capsys, "subscribers", "add", "4185550123", "--at", CÔTE)
    exported = run(capsys, "subscribers", "export", "--include-phones")
    assert f"'{hostile.FORMULA}".replace('"', '""') in exported
    path = tmp_path / "again.csv"
    path.write_text(exported, encoding="utf-8")
    run(capsys, "subscribers", "remove", "4185550123")
    run(capsys, "subscribers", "import", str(path))
    shown_back = json.loads(run(capsys, "subscribers", "show", "4185550123", "--json"))
    assert shown_back["zones"] == [hostile.FORMULA]


def test_spreadsheet_safe_cells() -> None:
    assert spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("-2+3") == "'-2+3"
    assert spreadsheet_safe("+1 (418) cmd") == "'+1 (418) cmd"
    assert spreadsheet_safe("\t=1") == "'\t=1"
    assert spreadsheet_safe("+14185551234") == "+14185551234"  # E.164
    assert spreadsheet_safe("+1******1234") == "+1******1234"  # masked
    assert spreadsheet_safe("Saint-Éloi") == "Saint-Éloi"
    assert spreadsheet_safe("") == ""


def test_forget_of_a_number_never_subscribed_says_what_it_did(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "sms", "receive", "--from", "4185550177", "1090 ch. du Lac-Doré")
    out = run(capsys, "subscribers", "forget", "4185550177", "--yes")
    assert "messages deleted" in out and "opted out" in out
