"""Status callbacks move deliveries forward only, with opt-outs, suppressions and redelivery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select, update

from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.outbox.dispatch import run_worker
from alerts.sending.alert_reports import alert_status
from alerts.sending.delivery_status import apply_pending_status_events, record_status
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Delivery, StatusEvent, Subscriber, Suppression
from alerts.wiring import Services
from tests.support.dispatch import bulk_subscribers, import_demo_zones, phone, twilio_services
from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def fake_with_callbacks() -> Iterator[FakeTwilio]:
    """A fake Twilio that also posts status callbacks."""
    with FakeTwilio(send_status_callbacks=True) as server:
        yield server


def _alert(services: Services) -> int:
    request = AlertRequest("info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Avis"))
    return send_alert(services, request).alert_id


def _sids(services: Services) -> dict[str, str]:
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(Subscriber.phone, Delivery.provider_id).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        ).all()
    return dict(rows)


def _state(services: Services, sid: str) -> tuple[str, str | None]:
    with services.session(read_only=True) as session:
        row = session.execute(
            select(Delivery.state, Delivery.error_code).where(Delivery.provider_id == sid)
        ).one()
    return row[0], row[1]


def test_callbacks_move_rows_forward_and_never_back(
    settings: Settings, fake_with_callbacks: FakeTwilio
) -> None:
    services = twilio_services(settings, fake_with_callbacks)
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(5), zone)
    alert_id = _alert(services)
    run_worker(services, until_idle=True)
    sids = _sids(services)
    assert record_status(services, sids[phone(0)], "delivered") == "delivered"
    assert record_status(services, sids[phone(0)], "sent") == "delivered"  # late, ignored
    assert record_status(services, sids[phone(1)], "sent") == "sent"
    assert record_status(services, sids[phone(1)], "undelivered", "30005") == "queued"
    assert record_status(services, sids[phone(2)], "failed", "21610") == "failed"
    assert record_status(services, sids[phone(3)], "undelivered", "30006") == "undelivered"
    assert record_status(services, sids[phone(4)], "undelivered", "30007") == "undelivered"
    assert record_status(services, sids[phone(4)], "delivered") == "delivered"  # overrules
    with services.session(read_only=True) as session:
        suppressed = dict(session.execute(select(Suppression.phone, Suppression.reason)).all())
        statuses = dict(session.execute(select(Subscriber.phone, Subscriber.status)).all())
    assert suppressed == {phone(2): "opt_out", phone(3): "invalid"}
    assert statuses[phone(2)] == "opted_out"
    # The unknown handset gets one more try (redeliver_attempts = 1), then no more.
    assert alert_status(services, alert_id)["state"] == "sending"
    run_worker(services, until_idle=True)
    assert fake_with_callbacks.count_to(phone(1)) == 2
    second = _sids(services)[phone(1)]
    assert second != sids[phone(1)]
    assert record_status(services, second, "undelivered", "30005") == "undelivered"
    status = alert_status(services, alert_id)
    assert status["deliveries"]["delivered"] == 2 and status["deliveries"]["undelivered"] == 2
    assert sum(status["deliveries"].values()) == status["recipients"] == 5
    assert status["errors"] == {"21610": 1, "30005": 1, "30006": 1, "30007": 1}
    services.close()


def test_a_callback_before_its_delivery_is_kept_and_applied_later(
    settings: Settings, fake_with_callbacks: FakeTwilio
) -> None:
    services = twilio_services(settings, fake_with_callbacks)
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(1), zone)
    _alert(services)
    assert record_status(services, "SM" + "0" * 32, "delivered") is None
    with services.session() as session:  # the dispatcher records the send afterwards
        session.execute(update(Delivery).values(state="sent", provider_id="SM" + "0" * 32))
    assert apply_pending_status_events(services) == 1
    assert _state(services, "SM" + "0" * 32) == ("delivered", None)
    with services.session(read_only=True) as session:
        assert session.execute(select(StatusEvent.applied)).scalars().all() == [True]
    services.close()


class _Callbacks(BaseHTTPRequestHandler):
    services: Services

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        record_status(
            self.services, form["MessageSid"], form["MessageStatus"], form.get("ErrorCode")
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_fake_providers_callbacks_finish_every_row(
    settings: Settings, fake_with_callbacks: FakeTwilio
) -> None:
    handler = type("Handler", (_Callbacks,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/sms/status"
    services = twilio_services(settings, fake_with_callbacks, status_callback=url)
    handler.services = services
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(20), zone)
    fake_with_callbacks.fail_delivery({phone(3): 30003, phone(4): 21610})
    alert_id = _alert(services)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run_worker(services, until_idle=True)
        counts = alert_status(services, alert_id)["deliveries"]
        if counts["delivered"] == 18 and counts["undelivered"] + counts["failed"] == 2:
            break
        time.sleep(0.05)
    server.shutdown()
    status = alert_status(services, alert_id)
    assert status["deliveries"]["delivered"] == 18
    assert status["errors"] == {"21610": 1, "30003": 1}
    assert fake_with_callbacks.count_to(phone(3)) == 2  # redelivered once after 30003
    assert fake_with_callbacks.count_to(phone(4)) == 1
    assert status["state"] == "done"
    services.close()
