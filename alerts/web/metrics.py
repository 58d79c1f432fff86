"""GET /metrics: the service's health in the Prometheus text format.

Counts that every process shares (inbound messages, deliveries, the queue, retries, missed
notices) are read from the database at each scrape, so any `alerts serve` process gives the
same figures; the gateway latency histogram is this process's own (see gateway_metrics).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlmodel import col

from alerts.gateways.gateway_metrics import GATEWAY_LATENCY
from alerts.storage.models import Alert, Delivery, InboundMessage, Notice
from alerts.wiring import Services

log = logging.getLogger(__name__)


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
            due = case((col(Delivery.next_attempt_at) > now, "later"), else_="due")
            queue = session.execute(
                select(due, func.count()).where(col(Delivery.state) == "queued").group_by(due)
            ).all()
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
        for state, count in sorted(deliveries):
            gauge.add_metric([state], count)
        yield gauge
        depth = GaugeMetricFamily(
            "alerts_queue_depth",
            "Queued deliveries: due now, or waiting for a retry time.",
            labels=["when"],
        )
        counts = dict(queue)
        for when in ("due", "later"):
            depth.add_metric([when], counts.get(when, 0))
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


def metrics_registry(services: Services) -> CollectorRegistry:
    """A registry with the database figures and this process's gateway latency."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(services))
    registry.register(GATEWAY_LATENCY)
    return registry


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
