"""`alerts sms receive`: texts no provider sends are refused in one line, and a batch reports
each failing line by its number and goes on with the next, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cli import main
from tests.commands.conftest import cli_workspace


@pytest.fixture
def cli_db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working folder whose CLI uses the test database, demo town imported."""
    from alerts.demo.run import DEMO_ADDRESSES

    cli_workspace(monkeypatch, tmp_path, database_url)
    assert main(["addresses", "import", str(DEMO_ADDRESSES)]) == 0
    return database_url


def _batch(folder: Path, *lines: str) -> Path:
    path = folder / "in.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _run_batch(path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["sms", "receive", "--batch", str(path)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_batch_reports_failing_lines_and_goes_on(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _batch(
        tmp_path,
        json.dumps({"from": "4185550123", "body": "abonner 1090 ch. du Lac-Doré\x00"}),
        json.dumps({"from": "4185550123", "body": "a" * 1601}),
        "not json",
        json.dumps({"from": "4185550123", "body": "AIDE", "sid": "S" * 65}),
        json.dumps({"from": "4185550123", "body": "bonjour \ud800"}),  # "\\ud800" in the file
        json.dumps({"from": "4185550123", "body": "OUI\x00"}),
    )
    lines = _run_batch(path, capsys)
    assert [line["action"] for line in lines] == [
        "confirm_requested",
        "error",
        "error",
        "error",
        "unknown",
        "subscribed",
    ]
    errors = {line["line"]: line["error"] for line in lines if line["action"] == "error"}
    assert errors == {
        2: "line 2: the text is longer than 1600 characters",
        3: "line 3: expected a JSON object with 'from' and 'body'",
        4: "line 4: the MessageSid is longer than 64 characters",
    }
    assert main(["subscribers", "show", "4185550123", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["zones"] == ["Lac-Doré"]


def test_a_batch_goes_on_when_the_database_refuses_a_line(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(cli_db)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE subscriber RENAME TO subscriber_gone"))
    engine.dispose()
    path = _batch(
        tmp_path,
        json.dumps({"from": "4185550123", "body": "abonner 1090 ch. du Lac-Doré"}),
        json.dumps({"from": "4185550124", "body": "AIDE"}),
    )
    lines = _run_batch(path, capsys)
    assert [(line["action"], line["line"]) for line in lines] == [("error", 1), ("error", 2)]
    shown = " ".join(str(line["error"]) for line in lines)
    assert "line 1: failed (" in shown and "line 2: failed (" in shown
    assert "4185550123" not in shown and "Lac-Doré" not in shown  # no values from the database


def test_one_text_too_long_is_one_line_and_exit_1(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["sms", "receive", "--from", "4185550123", "a" * 1601]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == "error: the text is longer than 1600 characters"
    assert main(["sms", "receive", "--from", "4185550123", "--json", "AIDE\x00"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "help"
