"""Dispatchers as separate OS processes: killed mid-alert, and two at once on PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.sending.alert_reports import alert_status
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.wiring import Services
from tests.support.dispatch import (
    SENDER,
    bulk_subscribers,
    import_demo_zones,
    phone,
    twilio_services,
)
from tests.support.fake_twilio import FakeTwilio
from tests.support.measurements import record
from tests.support.paths import REPO
from tests.support.processes import CLI, clean_env

CONCURRENCY = 8


def _environment(
    tmp_path: Path,
    database_url: str,
    fake: FakeTwilio,
    *,
    max_in_flight: int | None = CONCURRENCY,
    rate: float = 100_000,
) -> dict[str, str]:
    config = tmp_path / "alerts.toml"
    config.write_text(
        "[dispatch]\n"
        + (f"max_in_flight = {max_in_flight}\n" if max_in_flight else "")
        + "lease_seconds = 5\n"
        "poll_seconds = 0.05\n"
        'rate_unit = "messages"\n'
    )
    return clean_env(
        ("ALERTS_", "TWILIO_"),
        ALERTS_CONFIG=str(config),
        ALERTS_DATABASE_URL=database_url,
        ALERTS_GATEWAY="twilio",
        ALERTS_TWILIO_FROM=SENDER,
        ALERTS_TWILIO_API_BASE_URL=fake.base_url,
        ALERTS_DISPATCH_RATE=f"{rate:g}",
        TWILIO_ACCOUNT_SID=fake.account_sid,
        TWILIO_AUTH_TOKEN=fake.auth_token,
    )


def _dispatcher(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "dispatch", "--until-idle", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _town(database_url: str, fake: FakeTwilio, recipients: int) -> tuple[Services, int]:
    settings = Settings().with_overrides(**{"database.url": database_url})
    services = twilio_services(settings, fake, **{"dispatch.max_in_flight": CONCURRENCY})
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(recipients), zone)
    request = AlertRequest("info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Avis"))
    return services, send_alert(services, request).alert_id


def test_a_killed_dispatcher_with_many_sends_in_flight_loses_nothing_and_sends_nothing_twice(
    database_url: str, tmp_path: Path, fake: FakeTwilio
) -> None:
    """SIGKILL with dozens of requests in flight; Twilio keeps what it took queued (no
    date_sent) for two minutes; after the restart every recipient has exactly one message."""
    recipients, rate, latency = 1_500, 200, 0.5  # about 100 requests in flight at once
    services, alert_id = _town(database_url, fake, recipients)
    env = _environment(tmp_path, database_url, fake, max_in_flight=None, rate=rate)
    fake.queue_for(120)
    fake.latency(latency)  # a request is recorded on arrival, its message made on answering
    worker = _dispatcher(env)
    deadline = time.monotonic() + 60
    in_flight = 0
    while in_flight < 50 or len(fake.messages) < recipients // 5:
        assert worker.poll() is None, worker.communicate()[1]
        assert time.monotonic() < deadline, "the dispatcher made no progress"
        time.sleep(0.02)
        in_flight = len(fake.requests) - len(fake.messages)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(latency + 0.2)  # what was in flight lands at Twilio after the death
    before = alert_status(services, alert_id)
    assert before["deliveries"]["sending"] >= 50  # claimed, the answer never recorded
    assert len(fake.messages) > before["deliveries"]["sent"]  # and Twilio took them anyway

    fake.latency(0.02)
    restarted_at = time.monotonic()
    restarted = _dispatcher(env)
    out, err = restarted.communicate(timeout=180)
    restart_seconds = time.monotonic() - restarted_at
    assert restarted.returncode == 0, err
    report = json.loads(out)
    services.close()

    received = Counter(message["to"] for message in fake.messages)
    assert set(received) == {phone(n) for n in range(recipients)}  # nobody lost
    assert max(received.values()) == 1  # nobody texted twice
    assert report["looked_up"] == before["deliveries"]["sending"]  # only the uncertain
    assert report["reconciled"] >= 50 and report["unknown"] == 0
    after = alert_status(services, alert_id)
    assert after["state"] == "done"
    assert after["deliveries"]["sent"] == recipients
    assert after["deliveries"]["unknown"] == 0 and after["uncertain"] == 0
    record(
        "dispatch",
        f"SIGKILL with {in_flight} requests in flight ({before['deliveries']['sending']} "
        f"deliveries sending) [{database_url.split(':')[0]}]",
        f"{report['looked_up']} log look-ups ({report['reconciled']} found sent, "
        f"{report['looked_up'] - report['reconciled']} sent again), restart finished "
        f"{report['sent']} sends in {restart_seconds:.1f} s (lease 5 s), 0 duplicates",
    )


def test_two_dispatchers_on_postgresql_never_send_twice(
    postgres: object, tmp_path: Path, fake: FakeTwilio
) -> None:
    recipients = 2_000
    url = postgres.create()  # type: ignore[attr-defined]
    services, alert_id = _town(url, fake, recipients)
    fake.latency(0.002)
    env = _environment(tmp_path, url, fake)
    workers = [_dispatcher(env), _dispatcher(env)]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))
    services.close()
    received = Counter(message["to"] for message in fake.messages)
    assert len(received) == recipients
    assert set(received.values()) == {1}
    assert sum(report["sent"] for report in reports) == recipients
    assert alert_status(services, alert_id)["deliveries"]["sent"] == recipients
