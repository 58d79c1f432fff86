"""`alerts send` (its preview) and `alerts history` print data as text: zone names and
messages holding console markup or control characters neither crash nor reach the terminal
as markup or control, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace
from tests.support import hostile

CÔTE = "47.0395,-71.3220"  # a point in Côte-Blanche
NAMES = [hostile.MARKUP, hostile.CLOSING, hostile.BELL, hostile.ESCAPE, hostile.NUL]


@pytest.fixture
def town(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working folder on the test database: file gateway, demo zones, two subscribers."""
    cli_workspace(
        monkeypatch, tmp_path, database_url, file_gateway="sms.jsonl", quick_dispatch=True
    )
    assert main(["subscribers", "add", "4185550101", "--at", CÔTE]) == 0
    assert main(["subscribers", "add", "4185550102", "--zone", "Lac-Doré"]) == 0
    return database_url


@pytest.fixture(params=NAMES, ids=repr)
def name(request: pytest.FixtureRequest, town: str, capsys: pytest.CaptureFixture[str]) -> str:
    if request.param not in hostile.names_for(town):
        pytest.skip("PostgreSQL text cannot hold NUL")
    hostile.rename_zone(town, "Côte-Blanche", request.param)
    capsys.readouterr()
    return str(request.param)


def shown(text: str) -> str:
    return "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in text)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert not any(ch in captured.out for ch in "\x00\x07\x1b"), repr(captured.out)
    return captured.out


def test_the_send_preview_prints_a_hostile_zone_name_as_it_is(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "send", "--kind", "info", "--all", "--message", "Test", "--dry-run")
    assert shown(name) in out and "2 recipient(s)" in out
    out = run(capsys, "send", "--kind", "info", "--zone", name, "--message", "Test", "--dry-run")
    assert shown(name) in out and "1 recipient(s)" in out
    out = run(capsys, "send", "--kind", "info", "--zone", name, "--message", "Test", "--yes")
    assert "1 recipient(s)" in out  # and sent: the crash came before queueing


@pytest.mark.parametrize("message", ["[/]Déneigement", "Test [link=http://x]ici[/]"])
def test_a_message_with_markup_is_previewed_and_listed_as_it_is(
    town: str, capsys: pytest.CaptureFixture[str], message: str
) -> None:
    out = run(capsys, "send", "--kind", "info", "--all", "--message", message, "--yes")
    assert message in out
    assert message[:30] in run(capsys, "history")
