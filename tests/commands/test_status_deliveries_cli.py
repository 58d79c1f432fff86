"""`alerts status ID --deliveries`: one CSV row per recipient on stdout (phone masked unless
--include-phones, zone, language, state, error code, sent and updated in ISO 8601 with
offsets), cells a spreadsheet would run as formulas made text."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from alerts.sending.delivery_export import delivery_rows
from cli import main
from tests.commands.conftest import cli_workspace
from tests.support import hostile

CÔTE = "47.0395,-71.3220"  # a point in Côte-Blanche
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[45]:00")


@pytest.fixture
def town(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working folder on the test database: file gateway, demo zones (Lac-Doré renamed to
    a formula), two subscribers and one more who is then forgotten."""
    cli_workspace(
        monkeypatch, tmp_path, database_url, file_gateway="sms.jsonl", quick_dispatch=True
    )
    hostile.rename_zone(database_url, "Lac-Doré", "=cmd()")
    assert main(["subscribers", "add", "4185550101", "--zone", "=cmd()", "--lang", "en"]) == 0
    assert main(["subscribers", "add", "4185550102", "--at", CÔTE]) == 0
    return database_url


def send(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["send", "--kind", "info", "--all", "--message", "Test", "--yes", "--json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return str(document["alert_id"])


def deliveries(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    code = main(["status", *args, "--deliveries"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    reader = csv.DictReader(io.StringIO(captured.out, newline=""))
    assert reader.fieldnames == [
        "phone", "zone", "language", "state", "error_code", "sent", "updated",
    ]  # fmt: skip
    return list(reader)


def test_one_row_per_recipient_phones_masked_and_formulas_made_text(
    town: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = send(capsys)
    rows = deliveries(capsys, alert)
    assert [(r["phone"], r["zone"], r["language"], r["state"]) for r in rows] == [
        ("+1******0101", "'=cmd()", "en", "sent"),
        ("+1******0102", "Côte-Blanche", "fr", "sent"),
    ]
    for row in rows:
        assert ISO.fullmatch(row["sent"]) and ISO.fullmatch(row["updated"]), row
        assert row["error_code"] == ""
    whole = deliveries(capsys, alert, "--include-phones")
    assert [row["phone"] for row in whole] == ["+14185550101", "+14185550102"]
    assert [row["zone"] for row in whole] == ["'=cmd()", "Côte-Blanche"]


def test_a_forgotten_recipient_keeps_its_row_without_a_number(
    town: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = send(capsys)
    assert main(["subscribers", "forget", "4185550101", "--yes"]) == 0
    capsys.readouterr()
    rows = deliveries(capsys, alert, "--include-phones")
    assert [(row["phone"], row["language"]) for row in rows] == [("", "en"), ("+14185550102", "fr")]


def test_wrong_uses_are_one_line_and_print_no_csv(
    town: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = send(capsys)
    for args, code, said in (
        (["status", "999", "--deliveries"], 1, "no alert with id 999"),
        (["status", alert, "--include-phones"], 2, "--deliveries"),
        (["status", alert, "--deliveries", "--json"], 2, "CSV"),
    ):
        assert main(args) == code, args
        captured = capsys.readouterr()
        assert captured.out == "", args
        assert captured.err.count("\n") == 1 and said in captured.err, captured.err


def test_rows_are_read_as_they_are_written_not_all_at_once(
    town: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.config import load_settings
    from alerts.wiring import build

    alert = int(send(capsys))
    wired = build(load_settings())
    try:
        rows = delivery_rows(wired, alert)
        assert iter(rows) is rows  # a stream: nothing is read before the first row is asked
        assert next(rows)["phone"] == "+1******0101"
        assert [row["phone"] for row in rows] == ["+1******0102"]
    finally:
        wired.close()
