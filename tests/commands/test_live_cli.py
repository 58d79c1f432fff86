"""The CLI beside a live service, through the real commands and the fake Twilio.

With `alerts serve` running (its workers leave heartbeats), `send` and `cancel --notify`
queue and return with the command that follows them, and the workers deliver; without it,
they send right here. The shipped correction goes to each resident in their language with
the opt-out word; cancelling twice says so; a scheduled alert cancelled keeps its recipients;
commands warn when notices wait and no scheduler runs.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.clock.heartbeats import SCHEDULER, beat, scheduler_seen, workers_alive
from alerts.config import Settings
from alerts.wiring import Services, build
from cli import main
from tests.commands.conftest import cli_workspace
from tests.support.dispatch import SENDER
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import (
    CLI,
    clean_env,
    start_cli,
    start_serve,
    stop,
    stop_or_kill,
    wait_until,
)

FR, EN, FR_RADAR = "+14185550101", "+14185550102", "+14185550103"
WARNING = re.compile(
    r"^warning: no scheduler has run (for \d+ \w+|in the last 7 days): nothing scheduled "
    r"will go out until `alerts serve` runs$",
    re.MULTILINE,
)


@pytest.fixture
def town(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeTwilio
) -> Iterator[dict[str, str]]:
    """A SQLite town sending through the fake Twilio: the demo zones, two French residents
    and an English one. Yields the environment a service process needs."""
    variables = {
        "ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
        "ALERTS_GATEWAY": "twilio",
        "ALERTS_TWILIO_FROM": SENDER,
        "ALERTS_TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "ALERTS_DISPATCH_RATE": "1000",
        "ALERTS_OPERATOR": "test-operator",
    }
    cli_workspace(
        monkeypatch, tmp_path, drop=("ALERTS_", "TWILIO_"),
        config='[dispatch]\npoll_seconds = 0.05\nrate_unit = "messages"\n\n'
        "[schedule]\npoll_seconds = 0.2\n",
        **variables,
    )  # fmt: skip
    assert main(["subscribers", "add", FR, "--zone", "Saint-Éloi"]) == 0
    assert main(["subscribers", "add", EN, "--zone", "Lac-Doré", "--lang", "en"]) == 0
    assert main(["subscribers", "add", FR_RADAR, "--zone", "Saint-Éloi", "--topics", "radar"]) == 0
    yield clean_env(("ALERTS_", "TWILIO_"), **variables)


@pytest.fixture
def wired(town: dict[str, str]) -> Iterator[Services]:
    """Services on the town's database, for the tests' own look at the heartbeats."""
    services = build(Settings().with_overrides(**{"database.url": town["ALERTS_DATABASE_URL"]}))
    yield services
    services.close()


def _run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    result = main(list(args))
    out, err = capsys.readouterr()
    assert result == code, err
    return out, err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    out, _ = _run(capsys, *args)
    return json.loads(out)


def _bodies(fake: FakeTwilio, after: int = 0) -> dict[str, str]:
    """The texts the fake took, by number, from its `after`-th message on."""
    sent = [r.form for r in fake.requests if r.method == "POST"][after:]
    return {form["To"]: form["Body"] for form in sent}


def test_with_serve_running_send_and_cancel_queue_and_the_workers_deliver(
    town: dict[str, str],
    wired: Services,
    fake: FakeTwilio,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    server = start_serve({**town, "ALERTS_DISPATCH_RATE": "2"}, tmp_path, "serve.log")
    try:
        ready = wait_until(lambda: workers_alive(wired) and scheduler_seen(wired), 60)
        assert ready, (tmp_path / "serve.log").read_text()
        out, _ = _run(capsys, "send", "--kind", "info", "--all", "--message", "Avis")
        assert "Alert 1 queued: 3 recipient(s). Follow with: alerts status 1 --follow" in out
        assert "sent 0" not in out  # nothing was dispatched here

        out, err = _run(capsys, "status", "1", "--follow")
        assert err.splitlines()[-1] == "alert 1 done: 3/3 done (sent 3)"
        assert "alert 1" in out and "done" in out  # then the final status
        assert _bodies(fake) == {FR: "Avis", EN: "Avis", FR_RADAR: "Avis"}

        corrected = _json(capsys, "cancel", "1", "--notify", "--yes", "--json")
        assert corrected["correction_id"] == 2 and corrected["correction_recipients"] == 3
        assert corrected["dispatch"] is None  # left to the service's workers
        assert corrected["follow"] == "alerts status 2 --follow"
        _run(capsys, "status", "2", "--follow")
        fixes = _bodies(fake, after=3)
        assert set(fixes) == {FR, EN, FR_RADAR}
        assert fixes[FR] == fixes[FR_RADAR]
        assert "ANNULÉ" in fixes[FR] and fixes[FR].endswith("ARRET pour vous désabonner.")
        assert "CANCELLED" in fixes[EN] and fixes[EN].endswith("STOP to unsubscribe.")

        # A pending notice with the scheduler running: no warning.
        _run(capsys, "send", "--kind", "info", "--all", "--message", "Plus tard",
             "--at", "2099-12-03 19:00")  # fmt: skip
        _, err = _run(capsys, "schedule", "list")
        assert not WARNING.search(err), err
    finally:
        stop(server)
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log

    # Stopped cleanly: no worker left, so `send` sends right here; the scheduler's absence
    # is said at once.
    assert not workers_alive(wired)
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Encore", "--json")
    assert sent["dispatch"]["sent"] == 3 and sent["follow"] is None and sent["state"] == "done"
    _, err = _run(capsys, "schedule", "list")
    assert WARNING.search(err), err


def test_the_shipped_correction_is_previewed_confirmed_and_sent_in_each_language(
    town: dict[str, str],
    fake: FakeTwilio,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "snow", "--zone", "Saint-Éloi", "--zone", "Lac-Doré",
                 "--message", "Déneigement ce soir", "--json")  # fmt: skip
    assert sent["dispatch"]["sent"] == 2 and sent["follow"] is None  # no worker: sent here
    alert = str(sent["alert_id"])

    out, _ = _run(capsys, "cancel", alert, "--notify", "--dry-run")
    assert "Correction to 2 recipient(s): fr 1, en 1" in out
    assert "fr (GSM-7, 1 segment(s)):" in out and "en (GSM-7, 1 segment(s)):" in out
    assert "Saint-Éloi et Lac-Doré: ANNULÉ" in out  # names the alert's zones, per language
    assert "Saint-Éloi and Lac-Doré: CANCELLED" in out
    assert "2 segment(s), about" in out
    preview = _json(capsys, "cancel", alert, "--notify", "--dry-run", "--json")
    assert preview["state"] == "preview" and preview["correction"]["by_lang"] == {"fr": 1, "en": 1}
    assert preview["correction"]["segments"] == {"fr": 1, "en": 1}

    # Above the confirmation threshold, a "no" changes nothing.
    (Path.cwd() / "alerts.toml").write_text("[send]\nconfirm_over = 1\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    _, err = _run(capsys, "cancel", alert, "--notify", code=1)
    assert "Text the correction to 2 recipients?" in err and "aborted" in err
    assert len(_bodies(fake)) == 2

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    out, _ = _run(capsys, "cancel", alert, "--notify")
    assert "Correction alert 2 sent: 2 recipient(s)." in out
    fixes = _bodies(fake, after=2)
    assert fixes[FR].startswith("Alertes de quartier, Saint-Éloi et Lac-Doré: ANNULÉ. Ne tenez ")
    assert fixes[FR].endswith("ARRET pour vous désabonner.")
    assert fixes[EN].startswith("Neighbourhood Alerts, Saint-Éloi and Lac-Doré: CANCELLED.")
    assert fixes[EN].endswith("STOP to unsubscribe.")


def test_own_corrections_without_the_opt_out_word_are_warned_about(
    town: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--json")
    preview = _json(
        capsys, "cancel", str(sent["alert_id"]), "--notify-fr", "Oubliez l'avis.",
        "--notify-en", "Disregard it. STOP to unsubscribe.", "--dry-run", "--json",
    )  # fmt: skip
    assert preview["correction"]["text"]["fr"] == "Oubliez l'avis."
    assert preview["correction"]["warnings"] == [
        "the French correction does not say how to unsubscribe (ARRET)"
    ]


def test_cancelling_twice_says_it_is_already_cancelled_and_exits_0(
    town: dict[str, str], fake: FakeTwilio, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--queue-only",
                 "--json")  # fmt: skip
    alert = str(sent["alert_id"])
    first = _json(capsys, "cancel", alert, "--json")
    assert (first["state"], first["cancelled"], first["already_cancelled"]) == (
        "cancelled",
        3,
        False,
    )
    out, _ = _run(capsys, "cancel", alert)
    assert out.strip() == f"Alert {alert} is already cancelled."
    again = _json(capsys, "cancel", alert, "--json")
    assert again["already_cancelled"] and again["cancelled"] == 0
    assert fake.requests == []

    planned = _json(
        capsys, "operations", "add", "--kind", "snow", "--zone", "Saint-Éloi",
        "--start", "2099-12-03 19:00", "--end", "2099-12-04 07:00", "--json",
    )  # fmt: skip
    operation = str(planned["id"])
    cancelled = _json(capsys, "operations", "cancel", operation, "--json")
    assert cancelled["status"] == "cancelled" and not cancelled["already_cancelled"]
    out, _ = _run(capsys, "operations", "cancel", operation)
    assert out.strip() == f"Operation {operation} is already cancelled."
    twice = _json(capsys, "operations", "cancel", operation, "--json")
    assert twice["already_cancelled"] and twice["status"] == "cancelled"


def test_a_correction_goes_once_however_often_cancel_notify_is_repeated(
    town: dict[str, str], fake: FakeTwilio, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--json")
    alert = str(sent["alert_id"])
    out, _ = _run(capsys, "cancel", alert)  # the operator forgot --notify: it can follow
    assert out.strip() == f"Alert {alert} is done: nothing was left to cancel."
    first = _json(capsys, "cancel", alert, "--notify", "--yes", "--json")
    assert first["correction_recipients"] == 3
    second = _json(capsys, "cancel", alert, "--notify", "--yes", "--json")
    assert second["correction_id"] is None
    assert second["earlier_correction_id"] == first["correction_id"]
    assert len(_bodies(fake, after=3)) == 3 and len(fake.requests) == 6


def test_a_cancelled_scheduled_alert_still_reports_its_recipients(
    town: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = _json(capsys, "send", "--kind", "info", "--all", "--message", "Plus tard",
                 "--at", "2099-12-03 19:00", "--json")  # fmt: skip
    alert = str(sent["alert_id"])
    out, _ = _run(capsys, "cancel", alert, "--dry-run")
    assert f"Cancel scheduled alert {alert} (info): its 3 recipient(s) will not be texted." in out
    assert _json(capsys, "cancel", alert, "--json")["state"] == "cancelled"
    shown = _json(capsys, "status", alert, "--json")
    assert shown["state"] == "cancelled" and shown["recipients"] == 3
    # Its release is cancelled with it: nothing is left waiting for the scheduler.
    notices = _json(capsys, "schedule", "list", "--json")["notices"]
    assert [(n["alert_id"], n["status"]) for n in notices] == [(int(alert), "cancelled")]
    _, err = _run(capsys, "schedule", "list")
    assert not WARNING.search(err)


def test_commands_warn_when_notices_wait_and_no_scheduler_runs(
    town: dict[str, str], wired: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    _, err = _run(capsys, "schedule", "list")
    assert not WARNING.search(err)  # nothing waits
    out, err = _run(capsys, "send", "--kind", "info", "--all", "--message", "Plus tard",
                    "--at", "2099-12-03 19:00", "--json")  # fmt: skip
    assert json.loads(out)["state"] == "scheduled"  # the warning is not in the document
    assert len(WARNING.findall(err)) == 1
    for args in (["schedule", "list", "--json"], ["db", "status", "--json"]):
        out, err = _run(capsys, *args)
        json.loads(out)
        assert WARNING.search(err), args
    _, err = _run(capsys, "operations", "add", "--kind", "snow", "--zone", "Saint-Éloi",
                  "--start", "2099-12-03 19:00", "--end", "2099-12-04 07:00")  # fmt: skip
    assert WARNING.search(err)
    plan = Path.cwd() / "plan.csv"
    plan.write_text(
        "id,kind,start,end,zones,location\ns1,snow,2099-12-10 19:00,2099-12-11 07:00,Lac-Doré,\n",
        encoding="utf-8",
    )
    _, err = _run(capsys, "operations", "import", str(plan))
    assert WARNING.search(err)

    beat(wired, SCHEDULER, "elsewhere:1:scheduler", leader=True)  # a scheduler, just now
    for args in (["schedule", "list"], ["db", "status"], ["operations", "import", str(plan)]):
        _, err = _run(capsys, *args)
        assert not WARNING.search(err), args


def test_queue_only_without_a_worker_says_nothing_will_go_out_yet(
    town: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    out, err = _run(capsys, "send", "--kind", "info", "--all", "--message", "x", "--queue-only")
    assert "Alert 1 queued: 3 recipient(s). Follow with: alerts status 1 --follow" in out
    assert "warning: no dispatch worker is running: alert 1 waits for `alerts serve`" in err


def test_follow_on_a_finished_alert_prints_its_status_at_once(
    town: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    _json(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--json")
    shown = _json(capsys, "status", "1", "--follow", "--json")
    assert shown["state"] == "done"
    _run(capsys, "status", "1", "--follow", "--deliveries", code=2)


def _read_until(terminal: int, wanted: str, timeout: float) -> str:
    """What the pseudo-terminal shows until `wanted` appears (or the time is up)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 0.1)
        if ready:
            try:
                seen += os.read(terminal, 65536)
            except OSError:  # the other end closed
                break
    return seen.decode(errors="replace")


def _follow_on_a_terminal(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], int]:
    terminal, stderr = pty.openpty()
    process = subprocess.Popen(
        [*CLI, "status", "1", "--follow"],
        env={**env, "TERM": "xterm-256color", "COLUMNS": "80"},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    os.close(stderr)
    return process, terminal


def test_follow_draws_a_bar_on_a_terminal_and_ctrl_c_stops_only_the_following(
    town: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    _run(capsys, "send", "--kind", "info", "--all", "--message", "Avis", "--queue-only")
    follower, terminal = _follow_on_a_terminal(town, tmp_path)
    try:
        shown = _read_until(terminal, "0/3", 60)
        assert "alert 1 queued" in shown and "━" in shown, shown  # a bar, not lines
        follower.send_signal(signal.SIGINT)
        out, _ = follower.communicate(timeout=60)
        shown += _read_until(terminal, "goes on", 10)
    finally:
        os.close(terminal)
    assert follower.returncode == 0
    assert "stopped following: alert 1 goes on (alerts status 1)" in shown
    assert "queued 3" in out  # the status as it stands
    assert _json(capsys, "status", "1", "--json")["state"] == "queued"  # nothing stopped

    follower, terminal = _follow_on_a_terminal(town, tmp_path)
    worker = start_cli({**town, "ALERTS_DISPATCH_RATE": "2"}, tmp_path, "dispatch", "--until-idle")
    try:
        shown = ""
        deadline = time.monotonic() + 120
        while follower.poll() is None and time.monotonic() < deadline:
            shown += _read_until(terminal, "\x00", 0.5)  # read on, or the child blocks
        out, _ = follower.communicate(timeout=10)
        assert worker.wait(timeout=60) == 0
    finally:
        os.close(terminal)
        stop_or_kill(worker)
    assert follower.returncode == 0
    assert "3/3" in shown or "2/3" in shown, shown  # the bar moved as the worker sent
    assert "done" in out.splitlines()[0]  # then the final status, once it is over


def test_a_standing_dispatch_worker_beats_and_one_until_idle_does_not(
    town: dict[str, str], wired: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    _run(capsys, "dispatch", "--until-idle")
    assert not workers_alive(wired)  # it might have left before taking an alert
    worker = start_cli(town, tmp_path, "dispatch", log=tmp_path / "dispatch.log")
    try:
        assert wait_until(lambda: workers_alive(wired), 60), (tmp_path / "dispatch.log").read_text()
        out, _ = _run(capsys, "send", "--kind", "info", "--all", "--message", "Avis")
        assert "Alert 1 queued: 3 recipient(s). Follow with" in out
        _run(capsys, "status", "1", "--follow")
    finally:
        stop(worker)
    assert worker.returncode == 0
    assert not workers_alive(wired)  # its row went with it
