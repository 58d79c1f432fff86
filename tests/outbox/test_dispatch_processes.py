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
from tests.support.paths import REPO
from tests.support.processes import CLI, clean_env

CONCURRENCY = 8


def _environment(tmp_path: Path, database_url: str, fake: FakeTwilio) -> dict[str, str]:
    config = tmp_path / "alerts.toml"
    config.write_text(
        "[dispatch]\n"
        f"max_in_flight = {CONCURRENCY}\n"
        "lease_seconds = 5\n"
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
        ALERTS_DISPATCH_RATE="100000",
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


def test_a_killed_dispatcher_loses_nothing_and_duplicates_at_most_its_window(
    tmp_path: Path, fake: FakeTwilio
) -> None:
    recipients = 10_000
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    services, alert_id = _town(url, fake, recipients)
    env = _environment(tmp_path, url, fake)
    fake.latency(0.004)  # so that requests are in flight when the process dies
    worker = _dispatcher(env)
    deadline = time.monotonic() + 60
    while len(fake.requests) < recipients // 3:
        assert worker.poll() is None, worker.communicate()[1]
        assert time.monotonic() < deadline, "the dispatcher made no progress"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    fake.latency(0)
    before = alert_status(services, alert_id)
    assert 0 < before["deliveries"]["sent"] < recipients
    # The window as the database saw it: a few rows in flight, never more than the slots.
    assert 1 <= before["deliveries"]["sending"] <= CONCURRENCY

    restarted = _dispatcher(env)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    report = json.loads(out)
    services.close()

    received = Counter(message["to"] for message in fake.messages)
    assert set(received) == {phone(n) for n in range(recipients)}
    duplicates = sum(count - 1 for count in received.values())
    assert report["uncertain"] == before["deliveries"]["sending"]
    assert duplicates <= report["uncertain"] <= CONCURRENCY
    after = alert_status(services, alert_id)
    assert after["state"] == "done"
    assert after["deliveries"]["sent"] == recipients
    assert after["uncertain"] == report["uncertain"]


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
