"""Ids beyond what the database holds are usage errors on every command that takes one."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace

BIG = "99999999999999999999"


@pytest.mark.parametrize(
    "args",
    [
        ["status", BIG],
        ["status", "0"],
        ["operations", "show", BIG],
        ["operations", "cancel", BIG],
        ["operations", "move", BIG, "--start", "2026-12-03 19:00", "--end", "2026-12-04 07:00"],
        ["schedule", "cancel", BIG],
        ["schedule", "cancel", "--recurring", "-1"],
    ],
)
def test_an_id_out_of_range_is_a_usage_error(
    args: list[str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_workspace(monkeypatch, tmp_path, database_url, demo_town=False)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err, err


def test_an_error_line_carries_no_terminal_control(capsys: pytest.CaptureFixture[str]) -> None:
    from cli import _fail

    assert _fail("error: no zone named 'Évil\x1b[2J'", 1) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "Évil" in err
