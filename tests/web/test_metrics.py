"""GET /metrics: Prometheus exposition of inbound messages, deliveries, queue, retries, misfires."""

from __future__ import annotations

import contextlib
import math
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.gateways.gateway import ErrorKind, GatewayError, OutgoingSms, SendReceipt
from alerts.gateways.gateway_metrics import InstrumentedGateway
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.sms.conversation import InboundSms, handle_inbound
from alerts.storage.models import Delivery, Heartbeat, InboundMessage, Notice, Recurrence
from alerts.web.app import create_app
from alerts.web.metrics import is_loopback
from alerts.wiring import Services
from tests.support.dispatch import bulk_subscribers
from tests.support.gateways import send_now
from tests.support.public import NOW, Clock, public_services, zone_ids

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_what_the_database_holds(open_metrics_town: Services) -> None:
    (eloi,) = zone_ids(open_metrics_town, "Saint-Éloi")
    bulk_subscribers(open_metrics_town, range(6), eloi)
    alert = send_alert(
        open_metrics_town,
        AlertRequest("snow", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Neige")),
    )
    with open_metrics_town.session() as session:
        ids = list(
            session.execute(
                select(Delivery.id).where(Delivery.alert_id == alert.alert_id)
            ).scalars()
        )
        session.execute(update(Delivery).where(Delivery.id.in_(ids[:2])).values(state="delivered"))
        session.execute(update(Delivery).where(Delivery.id == ids[0]).values(attempts=3))
        session.execute(update(Delivery).where(Delivery.id == ids[1]).values(redeliveries=1))
        later = NOW + timedelta(minutes=5)
        session.execute(update(Delivery).where(Delivery.id == ids[2]).values(next_attempt_at=later))
        session.add(Notice(kind="notice", due_at=NOW, status="missed"))
        session.add(Notice(kind="reminder", due_at=NOW, status="sent"))
    for n, body in enumerate(["AIDE", "HELP", "bonjour"]):
        handle_inbound(open_metrics_town, InboundSms(f"+1418555{n:04d}", body, f"SM{n:032d}"))
    with open_metrics_town.session(read_only=True) as session:
        actions = list(session.execute(select(InboundMessage.action)).scalars())

    with TestClient(create_app(open_metrics_town)) as client:
        samples = scrape(client)
    assert samples[("alerts_database_up", ())] == 1
    for action in set(actions):
        expected = actions.count(action)
        assert samples[("alerts_inbound_messages_total", (("action", action),))] == expected
    assert samples[("alerts_deliveries", (("state", "delivered"),))] == 2
    assert samples[("alerts_deliveries", (("state", "queued"),))] == 4
    assert samples[("alerts_queue_depth", (("when", "due"),))] == 3
    assert samples[("alerts_queue_depth", (("when", "later"),))] == 1
    assert samples[("alerts_delivery_retries_total", ())] == 3  # two retries, one redelivery
    assert samples[("alerts_scheduler_misfires_total", ())] == 1
    assert samples[("alerts_alerts", (("state", "queued"),))] == 1


class Flaky:
    """A gateway that fails every other send."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: OutgoingSms) -> SendReceipt:
        self.calls += 1
        if self.calls % 2 == 0:
            raise GatewayError("busy", kind=ErrorKind.RETRYABLE, code="20429")
        return SendReceipt(f"flaky-{self.calls}", "queued")

    async def aclose(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_gateway_latency_is_a_histogram_by_outcome(open_metrics_town: Services) -> None:
    ok = (("gateway", "flaky"), ("outcome", "ok"))
    retryable = (("gateway", "flaky"), ("outcome", "retryable"))
    ok_inf = (("gateway", "flaky"), ("le", "+Inf"), ("outcome", "ok"))
    keys = [
        ("alerts_gateway_request_seconds_count", ok),
        ("alerts_gateway_request_seconds_count", retryable),
        ("alerts_gateway_request_seconds_bucket", ok_inf),
    ]
    gateway = InstrumentedGateway(Flaky())
    with TestClient(create_app(open_metrics_town)) as client:
        # The histogram belongs to the process: compare before and after.
        before = scrape(client)
        for n in range(4):
            with contextlib.suppress(GatewayError):
                send_now(gateway, OutgoingSms("+14185550000", f"test {n}"))
        after = scrape(client)
    assert gateway.calls == 4  # the wrapped gateway's own attributes stay reachable
    assert [after[key] - before.get(key, 0) for key in keys] == [2, 2, 2]


def test_the_wired_gateway_is_measured(open_metrics_town: Services) -> None:
    assert isinstance(open_metrics_town.gateway, InstrumentedGateway)
    assert open_metrics_town.gateway.name == "file"


def test_metrics_answer_only_loopback_clients_by_default(settings: Settings) -> None:
    services = public_services(settings, Clock())
    try:
        app = create_app(services)
        with TestClient(app, client=("203.0.113.7", 40000)) as remote:
            assert remote.get("/metrics").status_code == 403
        with TestClient(app, client=("127.0.0.1", 40000)) as local:
            assert local.get("/metrics").status_code == 200
    finally:
        services.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("10.0.0.1", False),
     ("testclient", False), (None, False)],
)  # fmt: skip
def test_loopback_addresses(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_heartbeat_ages_and_planned_work_for_the_alert_rules(open_metrics_town: Services) -> None:
    """What deploy/prometheus/alerts.rules.yml needs: how long since the scheduler holding
    the lock and any worker wrote (+Inf when none did), notices and recurrences by status."""
    with TestClient(create_app(open_metrics_town)) as client:
        empty = scrape(client)
        with open_metrics_town.session() as session:
            seen = {"process": "host:1:part", "started_at": NOW - timedelta(hours=1)}
            session.add(Heartbeat(role="worker", seen_at=NOW - timedelta(seconds=15), **seen))
            session.add(
                Heartbeat(
                    role="scheduler", leader=True, seen_at=NOW - timedelta(seconds=200), **seen
                )
            )
            # A scheduler that stopped later: its row stays, not leading, and does not count.
            stopped = {**seen, "process": "host:2:scheduler"}
            session.add(Heartbeat(role="scheduler", leader=False, seen_at=NOW, **stopped))
            session.add(Notice(kind="notice", due_at=NOW, status="scheduled"))
            session.add(Notice(kind="reminder", due_at=NOW, status="scheduled"))
            session.add(Recurrence(kind="radar", schedule="daily 19:00", status="cancelled"))
        samples = scrape(client)
    age = "alerts_heartbeat_age_seconds"
    assert empty[(age, (("role", "scheduler"),))] == math.inf
    assert empty[(age, (("role", "worker"),))] == math.inf
    assert empty[("alerts_notices", (("status", "scheduled"),))] == 0  # there before any row
    assert empty[("alerts_recurrences", (("status", "active"),))] == 0
    assert empty[("alerts_deliveries", (("state", "failed"),))] == 0
    assert samples[(age, (("role", "scheduler"),))] == 200
    assert samples[(age, (("role", "worker"),))] == 15
    assert samples[("alerts_notices", (("status", "scheduled"),))] == 2
    assert samples[("alerts_recurrences", (("status", "cancelled"),))] == 1
    assert samples[("alerts_recurrences", (("status", "active"),))] == 0


def test_webhook_answers_are_counted_by_path_and_status(open_metrics_town: Services) -> None:
    unsigned = ("alerts_webhook_requests_total", (("path", "/sms/inbound"), ("status", "403")))
    wrong_method = ("alerts_webhook_requests_total", (("path", "/sms/status"), ("status", "405")))
    with TestClient(create_app(open_metrics_town)) as client:
        before = scrape(client)  # the counter belongs to the process: compare
        for _ in range(3):
            assert client.post("/sms/inbound", data={"Body": "x"}).status_code == 403
        assert client.get("/sms/status").status_code == 405
        assert client.get("/").status_code in (200, 503)  # not a webhook: not counted
        after = scrape(client)
    assert after[unsigned] - before.get(unsigned, 0) == 3
    assert after[wrong_method] - before.get(wrong_method, 0) == 1
    assert not any(
        name == "alerts_webhook_requests_total" and dict(labels)["path"] == "/"
        for name, labels in after
    )
