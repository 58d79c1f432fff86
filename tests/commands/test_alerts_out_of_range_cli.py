"""Values out of range are usage errors (exit 2, one line), never internal errors: times
whose conversion to UTC would overflow, and ids no database column holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace

BIG = "99999999999999999999"  # more than any integer column holds


@pytest.fixture
def town(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder on the test database: file gateway, demo zones, one subscriber."""
    cli_workspace(monkeypatch, tmp_path, database_url, file_gateway="sms.jsonl")
    assert main(["subscribers", "add", "4185550101", "--zone", "Lac-Doré"]) == 0
    return tmp_path


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 2, (args, captured.err)
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    assert "internal error" not in captured.err
    return captured.err


SEND = ["send", "--kind", "info", "--all", "--message", "x", "--yes"]
OPERATION = ["operations", "add", "--kind", "snow", "--zone", "Lac-Doré"]


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31 23:59",  # overflowed once converted to UTC
        "9999-12-31T23:59+00:00",
        "0001-01-01 00:00",
        "0001-01-01T00:00+05:00",  # overflowed too, the other way
        "3000-01-01 00:00",
    ],
)
def test_send_at_a_time_out_of_range_is_a_usage_error(
    town: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    assert "out of range" in usage_error(capsys, *SEND, "--at", at)
    assert "out of range" in usage_error(capsys, *SEND, "--at", at, "--dry-run", "--json")
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # nothing queued


def test_the_last_year_in_range_is_still_accepted(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main([*SEND, "--at", "2999-12-31 23:59", "--json"]) == 0
    assert '"scheduled_for": "2999-12-31T23:59:00-05:00"' in capsys.readouterr().out


def test_operation_times_out_of_range_are_usage_errors(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage_error(capsys, *OPERATION, "--start", "9999-12-31 19:00", "--end", "9999-12-31 23:59")
    usage_error(capsys, *OPERATION, "--start", "2099-12-31 19:00", "--end", "9999-12-31 23:59")
    capsys.readouterr()
    assert main([*OPERATION, "--start", "2099-12-03 19:00", "--end", "2099-12-04 07:00"]) == 0
    usage_error(capsys, "operations", "move", "1", "--start", "9999-12-31 19:00",
                "--end", "9999-12-31 23:59")  # fmt: skip


def test_alert_ids_and_limits_out_of_range_are_usage_errors(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage_error(capsys, "cancel", BIG)
    usage_error(capsys, "cancel", "0")
    usage_error(capsys, "history", "--limit", BIG)
