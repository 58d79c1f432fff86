"""GET /metrics: the service's health in the Prometheus text format.

Counts that every process shares (inbound messages, deliveries, the queue, retries, missed
notices) are read from the database at each scrape, so any `alerts serve` process gives the
same figures; the gateway latency histogram and the webhook requests are this process's own
(see gateway_metrics, and WebhookCounter below). deploy/prometheus/alerts.rules.yml alerts on
them.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import case, func, or_, select
from sqlmodel import col
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.clock.heartbeats import SCHEDULER, WORKER
from alerts.gateways.gateway_metrics import GATEWAY_LATENCY
from alerts.outbox.outbox import queue_depth
from alerts.sending.alert_reports import DELIVERY_STATES
from alerts.storage.models import Alert, Delivery, Heartbeat, InboundMessage, Notice, Recurrence
from alerts.wiring import Services

log = logging.getLogger(__name__)
WEBHOOK_PATHS = ("/sms/inbound", "/sms/status")
# Registered in no registry here: every /metrics registry adds it, like GATEWAY_LATENCY.
WEBHOOK_REQUESTS = Counter(
    "alerts_webhook_requests",
    "Requests to Twilio's webhooks answered by this process, by path and HTTP status.",
    ["path", "status"],
    registry=None,
)


class DatabaseCollector(Collector):
    """Figures read from the tables at scrape time."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        """One scrape: a few aggregate queries in one read-only transaction."""
        up = GaugeMetricFamily("alerts_database_up", "1 when the database answered this scrape.")
        try:
            families = list(self._families())
        except Exception as exc:  # a scrape reports trouble, it never fails
            log.error("metrics: database query failed: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        now = self.services.clock()
        with self.services.session(read_only=True) as session:
            inbound = session.execute(
                select(col(InboundMessage.action), func.count()).group_by(
                    col(InboundMessage.action)
                )
            ).all()
            deliveries = session.execute(
                select(col(Delivery.state), func.count()).group_by(col(Delivery.state))
            ).all()
            queue = queue_depth(session, now)
            alerts = session.execute(
                select(col(Alert.state), func.count()).group_by(col(Alert.state))
            ).all()
            # Each attempt after the first is a retry; a redelivery is one more.
            extra_attempts = case((col(Delivery.attempts) > 1, col(Delivery.attempts) - 1), else_=0)
            retries = session.execute(
                select(
                    func.coalesce(func.sum(extra_attempts), 0)
                    + func.coalesce(func.sum(col(Delivery.redeliveries)), 0)
                )
            ).scalar_one()
            missed = session.execute(
                select(func.count()).select_from(Notice).where(col(Notice.status) == "missed")
            ).scalar_one()
            notices = session.execute(
                select(col(Notice.status), func.count()).group_by(col(Notice.status))
            ).all()
            recurrences = session.execute(
                select(col(Recurrence.status), func.count()).group_by(col(Recurrence.status))
            ).all()
            # The scheduler counts while it holds the lock; a stopped one's row stays, not leading.
            beats = dict(
                session.execute(
                    select(col(Heartbeat.role), func.max(col(Heartbeat.seen_at)))
                    .where(or_(col(Heartbeat.role) == WORKER, col(Heartbeat.leader)))
                    .group_by(col(Heartbeat.role))
                ).all()
            )

        family = CounterMetricFamily(
            "alerts_inbound_messages", "Text messages received, by what the service did.",
            labels=["action"],
        )  # fmt: skip
        for action, count in sorted(inbound, key=lambda row: row[0] or ""):
            family.add_metric([action or "none"], count)
        yield family
        gauge = GaugeMetricFamily(
            "alerts_deliveries", "Outbox rows (one per recipient of an alert), by state.",
            labels=["state"],
        )  # fmt: skip
        # Every state from the start, 0 included: a rate over a series born mid-window is lost.
        by_delivery_state = {**dict.fromkeys(DELIVERY_STATES, 0), **dict(deliveries)}
        for state, count in sorted(by_delivery_state.items()):
            gauge.add_metric([state], count)
        yield gauge
        depth = GaugeMetricFamily(
            "alerts_queue_depth",
            "Queued deliveries: due now, or waiting for a retry time.",
            labels=["when"],
        )
        for when in ("due", "later"):
            depth.add_metric([when], queue[when])
        yield depth
        by_state = GaugeMetricFamily("alerts_alerts", "Alerts by state.", labels=["state"])
        for state, count in sorted(alerts):
            by_state.add_metric([state], count)
        yield by_state
        yield CounterMetricFamily(
            "alerts_delivery_retries",
            "Send attempts after the first, and redeliveries after a transient failure.",
            value=int(retries),
        )
        yield CounterMetricFamily(
            "alerts_scheduler_misfires",
            "Planned notices missed: due while the service could not send them in time.",
            value=missed,
        )
        planned = GaugeMetricFamily(
            "alerts_notices", "Planned notices, by status (scheduled: still to fire).",
            labels=["status"],
        )  # fmt: skip
        for status, count in sorted({"scheduled": 0, "missed": 0, **dict(notices)}.items()):
            planned.add_metric([status], count)
        yield planned
        recurring = GaugeMetricFamily(
            "alerts_recurrences", "Recurring alerts, by status (active: still firing).",
            labels=["status"],
        )  # fmt: skip
        for status, count in sorted({"active": 0, **dict(recurrences)}.items()):
            recurring.add_metric([status], count)
        yield recurring
        age = GaugeMetricFamily(
            "alerts_heartbeat_age_seconds",
            "Seconds since the scheduler holding the lock, or any dispatch worker, last wrote its "
            "heartbeat (+Inf: none in the last week).",
            labels=["role"],
        )
        for role in (SCHEDULER, WORKER):
            seen = beats.get(role)
            age.add_metric([role], (now - seen).total_seconds() if seen else math.inf)
        yield age


def metrics_registry(services: Services) -> CollectorRegistry:
    """A registry with the database figures and this process's gateway latency."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(services))
    registry.register(GATEWAY_LATENCY)
    registry.register(WEBHOOK_REQUESTS)
    return registry


class WebhookCounter:
    """ASGI middleware counting the webhook requests this process answers, by status: a run
    of 403s on signed requests means the public address or the auth token is wrong."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in WEBHOOK_PATHS:
            await self.app(scope, receive, send)
            return
        status = 500  # a crash before the answer began is answered 500 further out

        async def counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            WEBHOOK_REQUESTS.labels(path, str(status)).inc()


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (the client is on this machine)."""
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_router(services: Services) -> APIRouter:
    """Route /metrics, restricted to loopback clients unless web.metrics_loopback_only is off."""
    router = APIRouter()
    registry = metrics_registry(services)
    loopback_only = services.settings.web.metrics_loopback_only

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        if loopback_only and not is_loopback(request.client.host if request.client else None):
            return Response("forbidden\n", status_code=403, media_type="text/plain")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
