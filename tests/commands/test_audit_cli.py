"""`alerts audit`: every operator action run through the CLI by ALERTS_OPERATOR=jdoe is
listed newest first with who and when (--since, --json, a table at 80 columns), never with a
whole phone number; `alerts status` names who sent the alert."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli import main
from tests.commands.conftest import cli_workspace, run, run_json

CÔTE = "47.0395,-71.3220"  # a point in Côte-Blanche
TZ = ZoneInfo("America/Toronto")


@pytest.fixture
def town(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder on the test database: file gateway, jdoe at the keyboard, demo zones."""
    return cli_workspace(
        monkeypatch, tmp_path, database_url, file_gateway="sms.jsonl", quick_dispatch=True,
        ALERTS_OPERATOR="jdoe", ALERTS_OPERATOR_LANGUAGE="en", COLUMNS="80",
    )  # fmt: skip


def local(days: int, hour: int) -> str:
    """A local wall-clock time `days` from today, as an operator types it."""
    moment = (datetime.now(TZ) + timedelta(days=days)).replace(hour=hour, minute=0)
    return moment.strftime("%Y-%m-%d %H:%M")


def test_every_operator_action_is_recorded_with_who_did_it(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.demo.run import DEMO_LAYER

    run(capsys, "subscribers", "add", "4185550101", "--zone", "Lac-Doré")
    run(capsys, "subscribers", "add", "4185550102", "--at", CÔTE)
    sent = run_json(capsys, "send", "--kind", "info", "--all", "--message", "Test", "--yes")
    later = run_json(
        capsys, "send", "--kind", "info", "--all", "--message", "Plus tard", "--yes",
        "--at", local(2, 12),
    )  # fmt: skip
    notice = next(
        n["id"]
        for n in run_json(capsys, "schedule", "list")["notices"]
        if n["alert_id"] == later["alert_id"]
    )
    run(capsys, "schedule", "cancel", str(notice))
    run(capsys, "cancel", str(sent["alert_id"]))
    operation = run_json(
        capsys, "operations", "add", "--kind", "snow", "--zone", "Lac-Doré",
        "--start", local(3, 19), "--end", local(4, 7),
    )["id"]  # fmt: skip
    run(capsys, "operations", "move", str(operation), "--start", local(5, 19), "--end", local(6, 7))
    run(capsys, "operations", "cancel", str(operation))
    plan = town / "semaine.csv"
    plan.write_text(f"kind,start,end,zones\nsnow,{local(3, 19)},{local(4, 7)},Saint-Éloi\n")
    run(capsys, "operations", "import", str(plan))
    roster = town / "roster.csv"
    roster.write_text("phone,zone\n4185550103,Lac-Doré\n")
    run(capsys, "subscribers", "import", str(roster))
    addresses = Path(DEMO_LAYER).with_name("val-givre-adresses.csv")
    run(capsys, "addresses", "import", str(addresses))
    run(capsys, "subscribers", "remove", "4185550102")
    run(capsys, "subscribers", "forget", "4185550101", "--yes")
    recurring = run_json(
        capsys, "send", "--kind", "info", "--all", "--message", "Rappel", "--every", "daily 19:00"
    )["id"]
    run(capsys, "schedule", "cancel", str(recurring), "--recurring")
    run(capsys, "zones", "import", str(DEMO_LAYER), "--replace", "--yes")

    entries = run_json(capsys, "audit", "--limit", "100")
    trail = [(entry["action"], entry["subject"]) for entry in reversed(entries)]
    assert trail == [
        ("zones.import", "val-givre-quartiers.geojson"),
        ("subscribers.add", "+1******0101"),
        ("subscribers.add", "+1******0102"),
        ("send", f"alert {sent['alert_id']}"),
        ("send", f"alert {later['alert_id']}"),
        ("schedule.cancel", f"notice {notice}"),
        ("cancel", f"alert {sent['alert_id']}"),
        ("operations.add", f"operation {operation}"),
        ("operations.move", f"operation {operation}"),
        ("operations.cancel", f"operation {operation}"),
        ("operations.add", f"operation {operation + 1}"),
        ("operations.import", "semaine.csv"),
        ("subscribers.import", "roster.csv"),
        ("addresses.import", "val-givre-adresses.csv"),
        ("subscribers.remove", "+1******0102"),
        ("subscribers.forget", "+1******0101"),
        ("send.every", f"recurrence {recurring}"),
        ("schedule.cancel", f"recurrence {recurring}"),
        ("zones.import", "val-givre-quartiers.geojson"),
    ]
    assert {entry["operator"] for entry in entries} == {"jdoe"}
    moments = [datetime.fromisoformat(entry["at"]) for entry in entries]
    assert moments == sorted(moments, reverse=True)
    assert all(entry["at"].endswith(("-05:00", "-04:00")) for entry in entries)
    details = {(e["action"], e["subject"]): e["detail"] for e in entries}
    assert details[("send", f"alert {sent['alert_id']}")] == {
        "kind": "info", "target": "all", "recipients": 2,
    }  # fmt: skip
    assert details[("subscribers.add", "+1******0101")]["zone"] == "Lac-Doré"
    assert details[("subscribers.import", "roster.csv")]["subscribers_added"] == 1
    assert details[("operations.add", f"operation {operation + 1}")]["source"] == "csv:semaine.csv"
    assert entries[0]["detail"]["replace"] is True and "replace" not in entries[-1]["detail"]
    # A subscriber is named by its masked number only, and a forgotten one leaves no more.
    whole = json.dumps(entries)
    assert "5550101" not in whole and "5550102" not in whole


def test_status_names_who_sent_the_alert(
    town: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "subscribers", "add", "4185550101", "--zone", "Lac-Doré")
    sent = run_json(capsys, "send", "--kind", "info", "--all", "--message", "Test", "--yes")
    alert = str(sent["alert_id"])
    assert run_json(capsys, "status", alert)["sent_by"] == "jdoe"
    assert "sent by jdoe" in run(capsys, "status", alert)
    monkeypatch.setenv("ALERTS_OPERATOR", "asmith")
    fixed = run_json(capsys, "cancel", alert, "--notify", "--yes")
    correction = str(fixed["correction_id"])
    assert run_json(capsys, "status", correction)["sent_by"] == "asmith"
    assert run_json(capsys, "status", alert)["sent_by"] == "jdoe"


def test_since_takes_a_local_date_a_time_or_a_duration(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribers", "add", "4185550101", "--zone", "Lac-Doré")
    everything = run_json(capsys, "audit")
    assert [e["action"] for e in everything] == ["subscribers.add", "zones.import"]
    assert run_json(capsys, "audit", "--since", "2h") == everything
    assert run_json(capsys, "audit", "--since", "2020-01-01") == everything
    assert run_json(capsys, "audit", "--since", local(-1, 19)) == everything
    assert run_json(capsys, "audit", "--since", local(1, 0)[:10]) == []
    assert run_json(capsys, "audit", "--limit", "1") == everything[:1]
    for wrong in ("yesterday", "99999999999d", "2026-13-45"):
        assert main(["audit", "--since", wrong]) == 2, wrong
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1, captured.err
        assert "--since" in captured.err


def test_the_text_listing_fits_80_columns_with_times_for_people(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribers", "add", "4185550101", "--zone", "Lac-Doré")
    run(
        capsys, "send", "--kind", "snow", "--zone", "Lac-Doré", "--template", "snow",
        "--var", "start=19:00", "--var", "hours=19:00-07:00", "--yes",
    )  # fmt: skip
    out = run(capsys, "audit")
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert "…" not in out
    assert "jdoe" in out and "subscribers.add" in out and "+1******0101" in out
    assert "recipients 1" in out and "zones Lac-Doré" in out
    now = datetime.now(TZ)
    assert f"{now:%a} {now:%b} {now.day}, " in out  # "Thu Dec 3, 7:04 p.m."
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d", out)  # no ISO 8601 for people
    more = run(capsys, "audit", "--limit", "1")
    assert "2 earlier action(s) not shown" in more


def test_the_clock_sends_without_an_audit_entry_and_status_says_so(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.clock.notices import fire_notice
    from alerts.config import load_settings
    from alerts.wiring import build

    run(capsys, "subscribers", "add", "4185550101", "--zone", "Lac-Doré")
    start = (datetime.now(TZ) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    end = (datetime.now(TZ) + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    operation = run_json(
        capsys, "operations", "add", "--kind", "snow", "--zone", "Lac-Doré", "--urgent",
        "--start", start, "--end", end,
    )  # fmt: skip
    notice = next(n for n in operation["notices"] if n["kind"] == "notice")
    wired = build(load_settings())
    try:
        fired = fire_notice(wired, notice["id"])  # what the scheduler does at its time
    finally:
        wired.close()
    assert fired.alert_id is not None
    shown = run_json(capsys, "status", str(fired.alert_id))
    assert (shown["sent_by"], shown["notice_id"]) == (None, notice["id"])
    assert f"sent by the scheduler (notice {notice['id']})" in run(
        capsys, "status", str(fired.alert_id)
    )
    actions = [entry["action"] for entry in run_json(capsys, "audit")]
    assert actions == ["operations.add", "subscribers.add", "zones.import"]
