"""The outbox worker against a fake Twilio, through the real SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.outbox.dispatch import run_worker
from alerts.sending.alert_reports import alert_status
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Alert, Delivery, Subscriber, Subscription, Suppression
from alerts.wiring import Services
from tests.support.dispatch import (
    bulk_subscribers,
    delivery_states,
    import_demo_zones,
    phone,
    twilio_services,
)
from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def dispatch_town(settings: Settings, fake: FakeTwilio) -> Iterator[tuple[Services, int]]:
    """Services sending to the fake, with the demo zones; yields them and Saint-Éloi's id."""
    services = twilio_services(settings, fake)
    zones = import_demo_zones(services)
    yield services, zones["Saint-Éloi"]
    services.close()


def _alert(services: Services, kind: str = "info", text: str = "Avis", urgent: bool = False) -> int:
    request = AlertRequest(
        kind, TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text=text), urgent=urgent
    )
    return send_alert(services, request).alert_id


def _suppressions(services: Services) -> dict[str, tuple[str, str | None]]:
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(Suppression.phone, Suppression.reason, Suppression.error_code)
        )
        return {row[0]: (row[1], row[2]) for row in rows}


def test_throttling_and_server_errors_are_retried_until_sent(
    dispatch_town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = dispatch_town
    bulk_subscribers(services, range(12), zone)
    alert_id = _alert(services)
    fake.fail_next(3, 429, 20429, retry_after=0.05)
    fake.fail_number_times(phone(5), 2, 503)
    fake.fail_number_times(phone(6), 1, 500)
    report = run_worker(services, until_idle=True)
    assert report.sent == 12 and report.failed == 0
    assert report.retried >= 6
    assert all(fake.count_to(phone(n)) == 1 for n in range(12))
    status = alert_status(services, alert_id)
    assert status["state"] == "done"
    assert status["deliveries"]["sent"] == 12
    assert status["errors"] == {}  # a send that finally worked keeps no error
    with services.session(read_only=True) as session:
        attempts = dict(
            session.execute(
                select(Subscriber.phone, Delivery.attempts).join(
                    Subscriber, Subscriber.id == Delivery.subscriber_id
                )
            ).all()
        )
    assert attempts[phone(5)] >= 3 and attempts[phone(6)] >= 2  # 429s hit any number


def test_permanent_errors_are_not_retried_and_are_acted_on(
    dispatch_town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = dispatch_town
    bulk_subscribers(services, range(6), zone)
    fake.fail_numbers({phone(0): 21211, phone(1): 21614, phone(2): 30006, phone(3): 21610})
    alert_id = _alert(services)
    report = run_worker(services, until_idle=True)
    assert (report.sent, report.failed, report.retried) == (2, 4, 0)
    tried = Counter(r.form.get("To") for r in fake.requests)
    assert all(tried[phone(n)] == 1 for n in range(6))
    assert _suppressions(services) == {
        phone(0): ("invalid", "21211"),
        phone(1): ("invalid", "21614"),
        phone(2): ("invalid", "30006"),
        phone(3): ("opt_out", "21610"),
    }
    with services.session(read_only=True) as session:
        status_of = dict(session.execute(select(Subscriber.phone, Subscriber.status)).all())
    assert status_of[phone(3)] == "opted_out" and status_of[phone(4)] == "active"
    status = alert_status(services, alert_id)
    assert status["errors"] == {"21211": 1, "21610": 1, "21614": 1, "30006": 1}
    assert status["deliveries"]["failed"] == 4 and status["deliveries"]["sent"] == 2
    # The next alert does not even try the suppressed numbers.
    _alert(services, text="Deuxième avis")
    assert run_worker(services, until_idle=True).sent == 2
    assert len(fake.requests) == 8


def test_a_refused_text_fails_the_whole_alert_with_a_clear_reason(
    settings: Settings, fake: FakeTwilio
) -> None:
    services = twilio_services(settings, fake, **{"dispatch.max_in_flight": 1})
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(10), zone)
    alert_id = _alert(services)
    fake.fail_next(1, 400, 21617)
    report = run_worker(services, until_idle=True)
    services.close()
    assert len(fake.requests) == 1
    assert report.sent == 0
    status = alert_status(services, alert_id)
    assert status["state"] == "failed"
    assert "21617" in status["error"] and "refused the text" in status["error"]
    assert status["deliveries"]["failed"] == 10


def test_opt_outs_made_after_queueing_are_honoured(
    dispatch_town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = dispatch_town
    bulk_subscribers(services, range(6), zone)
    alert_id = _alert(services, kind="snow", text="Déneigement ce soir")
    with services.session() as session:
        by_phone = dict(session.execute(select(Subscriber.phone, Subscriber.id)).all())
        session.execute(
            update(Subscriber).where(Subscriber.phone == phone(0)).values(status="opted_out")
        )
        session.add(Suppression(phone=phone(1), reason="opt_out"))
        session.execute(
            update(Subscriber).where(Subscriber.phone == phone(2)).values(topic_snow=False)
        )
        session.execute(
            update(Subscription)
            .where(Subscription.subscriber_id == by_phone[phone(3)])
            .values(status="stopped")
        )
        session.delete(session.get(Subscriber, by_phone[phone(4)]))
    report = run_worker(services, until_idle=True)
    assert (report.sent, report.skipped) == (1, 5)
    assert [fake.count_to(phone(n)) for n in range(6)] == [0, 0, 0, 0, 0, 1]
    status = alert_status(services, alert_id)
    assert status["deliveries"]["skipped"] == 5
    assert sum(status["deliveries"].values()) == status["recipients"] == 6


def test_an_opt_out_during_the_send_is_honoured(settings: Settings, fake: FakeTwilio) -> None:
    services = twilio_services(
        settings, fake, **{"dispatch.rate_per_second": 10, "dispatch.rate_unit": "messages"}
    )
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(10), zone)
    _alert(services)
    worker = threading.Thread(target=run_worker, args=(services,), kwargs={"until_idle": True})
    worker.start()
    while not fake.requests:
        time.sleep(0.005)
    with services.session() as session:  # the last in line replies STOP while the send runs
        session.add(Suppression(phone=phone(9), reason="opt_out"))
    worker.join()
    services.close()
    assert fake.count_to(phone(9)) == 0
    assert sum(fake.count_to(phone(n)) for n in range(9)) == 9


def test_urgent_alerts_overtake_normal_ones(settings: Settings, fake: FakeTwilio) -> None:
    services = twilio_services(settings, fake, **{"dispatch.max_in_flight": 1})
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(5), zone)
    _alert(services, text="normal")
    _alert(services, text="URGENT", urgent=True)
    run_worker(services, until_idle=True)
    services.close()
    bodies = [r.form["Body"] for r in fake.requests]
    assert bodies == ["URGENT"] * 5 + ["normal"] * 5


def test_the_rate_limit_holds_in_segments_per_second(settings: Settings, fake: FakeTwilio) -> None:
    rate = 20.0
    services = twilio_services(
        settings, fake, **{"dispatch.rate_per_second": rate, "dispatch.rate_unit": "segments"}
    )
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(16), zone)
    _alert(services, text="Deux segments. " + "x" * 150)  # 2 segments each
    run_worker(services, until_idle=True)
    services.close()
    times = sorted(r.at for r in fake.requests)
    assert len(times) == 16
    burst, grant = rate * 0.25, rate * 0.1
    assert _most_in_one_second(times) * 2 <= _allowed_in_one_second(rate, burst, grant), times


def test_bad_credentials_stop_the_worker_and_leave_the_queue_intact(
    settings: Settings, fake: FakeTwilio
) -> None:
    services = twilio_services(settings, fake, auth_token="wrong-token")
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(20), zone)
    alert_id = _alert(services)
    report = run_worker(services, until_idle=True)
    services.close()
    assert report.stopped is not None and "credentials" in report.stopped
    assert report.failed == 0
    states = delivery_states(services, alert_id)
    assert set(states.values()) == {"queued"}
    with services.session(read_only=True) as session:
        assert set(session.execute(select(Delivery.attempts)).scalars()) == {0}
        assert session.get(Alert, alert_id).state == "sending"


def test_a_worker_with_bad_credentials_pauses_alone_in_serve(
    settings: Settings, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    from alerts.service import Roles, ServiceProcess

    services = twilio_services(settings, fake, auth_token="wrong-token")
    bulk_subscribers(services, range(3), import_demo_zones(services)["Saint-Éloi"])
    _alert(services)
    process = ServiceProcess(services, Roles(web=False, scheduler=True, workers=1))
    process.start_background()
    try:
        deadline = time.monotonic() + 30
        while "dispatch worker paused" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "dispatch worker paused" in caplog.text
        # The other roles go on: the process was not told to stop, the scheduler still runs.
        assert not process.stop.is_set()
        assert {t.name for t in threading.enumerate()} >= {"scheduler", "dispatch-1"}
    finally:
        process.shutdown()
        services.close()


def test_idle_workers_do_not_burst_when_an_alert_arrives(
    settings: Settings, fake: FakeTwilio
) -> None:
    rate = 2.0
    services = twilio_services(
        settings, fake, **{"dispatch.rate_per_second": rate, "dispatch.max_in_flight": 8}
    )
    bulk_subscribers(services, range(6), import_demo_zones(services)["Saint-Éloi"])
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(services,), kwargs={"stop": stop})
    worker.start()
    try:
        time.sleep(1.0)  # every slot has looked for work and found none
        _alert(services)  # queued while the worker idles, as the scheduler or --queue-only do
        deadline = time.monotonic() + 30
        while len(fake.requests) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(30)
        services.close()
    times = sorted(r.at for r in fake.requests)
    assert len(times) == 6
    burst, grant = max(1.0, rate * 0.25), max(1.0, rate * 0.1)
    # Eight idle slots each holding a token would send seven or eight at once.
    assert _most_in_one_second(times) <= _allowed_in_one_second(rate, burst, grant), times


def _most_in_one_second(times: list[float]) -> int:
    """The most requests the fake received within any one second."""
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def _allowed_in_one_second(rate: float, burst: float, grant: float) -> float:
    """A token bucket's most in one second (rate, burst, one grant ahead), plus a quarter
    second of scheduling noise: the fake times arrivals, not the bucket's grants."""
    return rate * 1.25 + burst + grant


def test_a_cancelled_alert_does_not_resend_what_failed_in_flight(
    settings: Settings, fake: FakeTwilio
) -> None:
    from alerts.sending.cancelling import cancel_alert

    services = twilio_services(settings, fake, **{"dispatch.max_in_flight": 4})
    bulk_subscribers(services, range(4), import_demo_zones(services)["Saint-Éloi"])
    alert_id = _alert(services)
    fake.latency(1.5)  # long enough for the cancel to land while all four are in flight
    fake.fail_next(4, status=503, code=None)  # the four sends in flight will fail, retryable
    worker = threading.Thread(target=run_worker, args=(services,), kwargs={"until_idle": True})
    worker.start()
    deadline = time.monotonic() + 10
    while len(fake.requests) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    cancel_alert(services, alert_id)  # while all four are in flight
    fake.latency(0.0)
    worker.join(30)
    services.close()
    assert not worker.is_alive()
    assert len(fake.requests) == 4 and fake.messages == []  # nothing sent after the cancel
    assert set(delivery_states(services, alert_id).values()) == {"cancelled"}
    assert alert_status(services, alert_id)["state"] == "cancelled"
