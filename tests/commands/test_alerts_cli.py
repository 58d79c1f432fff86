"""The operator's alert commands: preview, confirm, send, status, cancel, history, dispatch."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace


@pytest.fixture
def town_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder: SQLite database, file gateway, demo zones, three subscribers."""
    cli_workspace(monkeypatch, tmp_path, file_gateway="sms.jsonl", quick_dispatch=True)
    assert main(["subscribers", "add", "4185550101", "--zone", "Saint-Éloi"]) == 0
    assert main(["subscribers", "add", "4185550102", "--zone", "Lac-Doré", "--lang", "en"]) == 0
    assert (
        main(["subscribers", "add", "4185550103", "--zone", "Saint-Éloi", "--topics", "radar"]) == 0
    )
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


SNOW = ["--kind", "snow", "--template", "snow", "--var", "start=2026-12-03T19:00",
        "--var", "hours=19:00-07:00"]  # fmt: skip


def test_send_json_is_one_document_and_the_messages_go_out(
    town_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", *SNOW, "--zone", "st-eloi", "--zone", "lac dore", "--json")
    assert set(sent) >= {
        "alert_id", "recipients", "by_zone", "segments", "encoding", "estimated_seconds",
        "scheduled_for",
    }  # fmt: skip
    assert sent["recipients"] == 2
    assert sent["by_zone"] == {"Lac-Doré": 1, "Saint-Éloi": 1}
    assert sent["segments"] == {"fr": 2, "en": 2}
    assert sent["encoding"] == {"fr": "GSM-7", "en": "GSM-7"}
    assert sent["scheduled_for"] is None
    assert sent["dispatch"]["sent"] == 2 and sent["state"] == "done"  # sent right here
    lines = (town_dir / "sms.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["to"] for line in lines) == ["+14185550101", "+14185550102"]
    status = _json(capsys, "status", str(sent["alert_id"]), "--json")
    assert status["state"] == "done"
    assert set(status) >= {"alert_id", "kind", "state", "deliveries", "by_zone", "errors"}
    assert set(status["deliveries"]) == {
        "queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled",
        "skipped", "unknown",
    }  # fmt: skip
    assert sum(status["deliveries"].values()) == 2
    history = _json(capsys, "history", "--json")
    assert [row["alert_id"] for row in history] == [sent["alert_id"]]


def test_dry_run_previews_and_queues_nothing(
    town_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    city = ["--var", "zone=toute la ville", "--var", "zone.en=the whole city"]
    preview = _json(capsys, "send", *SNOW, *city, "--all", "--dry-run", "--json")
    assert preview["alert_id"] is None and preview["recipients"] == 2
    assert preview["text"]["en"].startswith("Neighbourhood Alerts, the whole city: snow removal")
    assert main(["send", "--kind", "info", "--all", "--message", "Test", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "3 recipient(s)" in out and "GSM-7" in out and "USD" in out
    assert _json(capsys, "history", "--json") == []
    assert not (town_dir / "sms.jsonl").exists()


def test_scheduled_send_reports_local_time_with_offset(
    town_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(
        capsys, "send", *SNOW, "--zone", "Saint-Éloi", "--at", "2099-12-03 19:00", "--json"
    )
    assert sent["scheduled_for"] == "2099-12-03T19:00:00-05:00"
    assert sent["state"] == "scheduled" and sent["dispatch"] is None
    assert _json(capsys, "status", str(sent["alert_id"]), "--json")["state"] == "scheduled"
    assert main(["cancel", str(sent["alert_id"])]) == 0
    assert "cancelled" in capsys.readouterr().out


def test_confirmation_is_asked_above_the_threshold(
    town_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (town_dir / "alerts.toml").write_text("[send]\nconfirm_over = 1\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    capsys.readouterr()
    assert main(["send", "--kind", "info", "--all", "--message", "Test"]) == 1
    assert "aborted" in capsys.readouterr().err
    assert _json(capsys, "history", "--json") == []
    assert (
        main(["send", "--kind", "info", "--all", "--message", "Test", "--yes", "--queue-only"]) == 0
    )
    assert "queued: 3 recipient(s)" in capsys.readouterr().out
    report = _json(capsys, "dispatch", "--until-idle", "--json")
    assert report["sent"] == 3 and report["remaining"] == 0


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["send", "--kind", "snow", "--zone", "Atlantis", "--message", "x"], 1, "no zone named"),
        (["send", "--kind", "snow", "--zone", "Lac-Doré", "--template", "snow"], 1, "hours, start"),
        (["send", "--kind", "info", "--all", "--zone", "Lac-Doré", "--message", "x"], 2,
         "exactly one target"),
        (["send", "--kind", "info", "--all", "--message", "x", "--at", "2026-03-08 02:30"], 2,
         "does not exist"),
        (["send", "--kind", "info", "--all", "--message", "x", "--var", "oops"], 2, "KEY=VALUE"),
        (["send", "--kind", "info", "--all"], 2, "exactly one message"),
        (["send", "--kind", "info", "--area", "missing.geojson", "--message", "x"], 1, "--area"),
        (["status", "999"], 1, "no alert with id 999"),
        (["cancel", "999"], 1, "no alert with id 999"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_change_nothing(
    town_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, words: str
) -> None:
    capsys.readouterr()
    assert main(args) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and words in captured.err
    assert _json(capsys, "history", "--json") == []


def test_cancel_with_a_correction(town_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--json")
    result = _json(
        capsys, "cancel", str(sent["alert_id"]), "--notify-fr", "Avis annulé. ARRET pour vous "
        "désabonner.", "--notify-en", "Notice cancelled. STOP to unsubscribe.", "--json",
    )  # fmt: skip
    assert result["cancelled"] == 0 and result["correction_recipients"] == 3
    assert result["correction"]["by_lang"] == {"fr": 2, "en": 1}
    assert result["correction"]["warnings"] == []  # both say how to unsubscribe
    assert result["dispatch"]["sent"] == 3
    lines = (town_dir / "sms.jsonl").read_text().splitlines()
    bodies = {json.loads(line)["to"]: json.loads(line)["body"] for line in lines[3:]}
    assert bodies == {
        "+14185550101": "Avis annulé. ARRET pour vous désabonner.",
        "+14185550102": "Notice cancelled. STOP to unsubscribe.",
        "+14185550103": "Avis annulé. ARRET pour vous désabonner.",
    }


def test_cancel_notify_takes_no_text_now(
    town_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--json")
    # The old `--notify TEXT` sent one French text to everyone: now a usage error.
    assert main(["cancel", str(sent["alert_id"]), "--notify", "Avis annulé"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected extra argument" in err and "Avis annulé" in err
    assert main(["cancel", str(sent["alert_id"]), "--notify-fr", "Avis annulé"]) == 2
    assert "go together" in capsys.readouterr().err
    assert _json(capsys, "status", str(sent["alert_id"]), "--json")["state"] == "done"


def test_send_json_with_the_console_gateway_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts.demo.run import DEMO_LAYER

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("ALERTS_GATEWAY", "console")
    monkeypatch.setenv("ALERTS_DISPATCH_RATE", "100")
    assert main(["zones", "import", str(DEMO_LAYER)]) == 0
    assert main(["subscribers", "add", "4185550123", "--zone", "Lac-Doré"]) == 0
    capsys.readouterr()
    args = ["send", "--kind", "info", "--zone", "Lac-Doré", "--message", "Test", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["recipients"] == 1
    assert "SMS to +1******0123" in captured.err


def test_operations_and_schedule_commands(
    town_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    planned = _json(
        capsys, "operations", "add", "--kind", "snow", "--zone", "st-eloi",
        "--start", "2099-12-03 19:00", "--end", "2099-12-04 07:00", "--json",
    )  # fmt: skip
    op_id = planned["id"]
    assert planned["status"] == "planned" and planned["zones"] == ["Saint-Éloi"]
    assert planned["start"] == "2099-12-03T19:00:00-05:00"  # ISO 8601 with its offset
    listed = _json(capsys, "operations", "list", "--json")
    assert [op["id"] for op in listed] == [op_id]
    assert set(listed[0]) >= {"id", "kind", "start", "end", "zones", "location", "status"}
    moved = _json(capsys, "operations", "move", str(op_id), "--start", "2099-12-04 19:00",
                  "--end", "2099-12-05 07:00", "--json")  # fmt: skip
    assert moved["start"] == "2099-12-04T19:00:00-05:00"
    first_notice = next(n for n in moved["notices"] if n["status"] == "scheduled")
    assert first_notice["due"] == "2099-12-04T17:00:00-05:00"  # two hours before (default)
    assert _json(capsys, "operations", "show", str(op_id), "--json")["id"] == op_id
    # schedule list shows the notices; cancelling one leaves the others.
    schedule = _json(capsys, "schedule", "list", "--json")
    ids = [n["id"] for n in schedule["notices"] if n["status"] == "scheduled"]
    assert first_notice["id"] in ids
    assert main(["schedule", "cancel", str(first_notice["id"])]) == 0
    capsys.readouterr()
    after = {n["id"]: n["status"] for n in _json(capsys, "schedule", "list", "--json")["notices"]}
    assert after[first_notice["id"]] == "cancelled"
    assert main(["schedule", "cancel", str(first_notice["id"])]) == 2  # not scheduled any more
    assert capsys.readouterr().err.count("\n") == 1
    cancelled = _json(capsys, "operations", "cancel", str(op_id), "--json")
    assert cancelled["status"] == "cancelled"
    assert all(n["status"] != "scheduled" for n in cancelled["notices"])
    # A plan file: imported, then imported again as a no-op.
    plan = town_dir / "plan.csv"
    plan.write_text(
        "id,kind,start,end,zones,location\n"
        "r1,radar,2099-12-10 08:00,2099-12-10 12:00,,47.0480 -71.3520\n"
        "s1,snow,2099-12-10 19:00,2099-12-11 07:00,Lac-Doré;Saint-Éloi,\n",
        encoding="utf-8",
    )
    first = _json(capsys, "operations", "import", str(plan), "--json")
    assert (first["added"], first["unchanged"]) == (2, 0)
    again = _json(capsys, "operations", "import", str(plan), "--json")
    assert (again["added"], again["unchanged"]) == (0, 2)
    assert main(["operations", "show", "999"]) == 1
    assert "999" in capsys.readouterr().err
