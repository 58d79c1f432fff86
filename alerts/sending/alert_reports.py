"""What operators read about alerts: one alert's progress, and the history of sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from alerts.core.local_time import format_local
from alerts.sending.sending import NO_ZONE, AlertNotFound, count_by_state
from alerts.storage.models import Alert, Delivery, Notice, ZoneRecord
from alerts.wiring import Services

DELIVERY_STATES = (
    "queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled", "skipped",
    "unknown",
)  # fmt: skip
# Deliveries that reached the provider: the message left (and maybe arrived).
SENT_STATES = ("sent", "delivered", "undelivered")


def alert_state(services: Services, alert_id: int) -> str:
    """An alert's state alone, without counting its deliveries."""
    with services.session(read_only=True) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert.state


def alert_status(services: Services, alert_id: int) -> dict[str, Any]:
    """An alert's state, its deliveries by state, by zone and by error code."""
    tz = services.settings.service.tz
    with services.session(read_only=True) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        counts = count_by_state(session, alert_id)
        zone_rows = session.execute(
            select(col(ZoneRecord.name), col(Delivery.state), func.count())
            .select_from(Delivery)
            .join(ZoneRecord, col(ZoneRecord.id) == Delivery.zone_id, isouter=True)
            .where(col(Delivery.alert_id) == alert_id)
            .group_by(col(ZoneRecord.name), col(Delivery.state))
        ).all()
        error_rows = session.execute(
            select(col(Delivery.error_code), func.count())
            .where(col(Delivery.alert_id) == alert_id, col(Delivery.error_code).is_not(None))
            .group_by(col(Delivery.error_code))
        ).all()
        uncertain = session.execute(
            select(func.count()).where(col(Delivery.alert_id) == alert_id, col(Delivery.uncertain))
        ).scalar_one()
        unknown_rows = session.execute(
            select(col(Delivery.error_message), func.count())
            .where(col(Delivery.alert_id) == alert_id, col(Delivery.state) == "unknown")
            .group_by(col(Delivery.error_message))
            .order_by(func.count().desc())
            .limit(3)
        ).all()
        rate = _achieved_rate(session, alert_id, services.clock())
        notice_id = session.execute(
            select(func.min(col(Notice.id))).where(col(Notice.alert_id) == alert_id)
        ).scalar_one()
    by_zone: dict[str, dict[str, int]] = {}
    for name, state, count in sorted(zone_rows, key=lambda row: (row[0] or "", row[1])):
        by_zone.setdefault(name or NO_ZONE, {})[state] = count
    deliveries = {state: counts.get(state, 0) for state in DELIVERY_STATES}
    return {
        "alert_id": alert.id,
        "kind": alert.kind,
        "state": alert.state,
        "urgent": alert.urgent,
        # A scheduled alert has no deliveries until released; cancelled before, it still
        # says whom it would have reached (counted when it was scheduled).
        "recipients": sum(deliveries.values()) or alert.recipients,
        "deliveries": deliveries,
        "by_zone": by_zone,
        "errors": {code: count for code, count in sorted(error_rows)},
        "uncertain": uncertain,
        # Why deliveries are unknown (the commonest reasons): lost answers that could not be
        # looked up in the provider's log, or, without a log, at-most-once recovery.
        "unknown_reasons": {reason or "unknown": count for reason, count in unknown_rows},
        "rate": {
            **rate,
            "configured": services.settings.dispatch.rate_per_second,
            "unit": services.settings.dispatch.rate_unit,
        },
        "error": alert.error,
        # The operator who sent it; None for the clock's (sent by `notice_id`).
        "sent_by": alert.sent_by,
        "notice_id": notice_id,
        "correction_of": alert.correction_of,
        "created_at": format_local(alert.created_at, tz),
        "scheduled_for": format_local(alert.scheduled_for, tz) if alert.scheduled_for else None,
        "finished_at": format_local(alert.finished_at, tz) if alert.finished_at else None,
        "text": {"fr": alert.body_fr, "en": alert.body_en},
    }


RATE_WINDOW = timedelta(seconds=10)


def _achieved_rate(session: Session, alert_id: int, now: datetime) -> dict[str, float | None]:
    """Messages and segments per second over the last ten seconds (or since the first send,
    if later), and over the whole alert."""
    sent = (col(Delivery.alert_id) == alert_id, col(Delivery.sent_at).is_not(None))
    total, first, last = session.execute(
        select(func.count(), func.min(col(Delivery.sent_at)), func.max(col(Delivery.sent_at)))
        .where(*sent)
    ).one()  # fmt: skip
    if not total:
        return {
            "recent_messages_per_second": 0.0,
            "recent_segments_per_second": 0.0,
            "average_messages_per_second": None,
        }
    start = max(now - RATE_WINDOW, first)
    recent_messages, recent_segments = session.execute(
        # Segments as billed; 1 where the provider did not say (console and file gateways).
        select(
            func.count(), func.coalesce(func.sum(func.coalesce(col(Delivery.segments), 1)), 0)
        ).where(*sent, col(Delivery.sent_at) >= start)
    ).one()
    seconds = max(1.0, (now - start).total_seconds())
    span = (last - first).total_seconds()
    return {
        "recent_messages_per_second": recent_messages / seconds,
        "recent_segments_per_second": recent_segments / seconds,
        "average_messages_per_second": (total - 1) / span if span > 0 else None,
    }


def alert_history(services: Services, limit: int = 20) -> list[dict[str, Any]]:
    """The latest alerts, newest first, with how many messages went out."""
    tz = services.settings.service.tz
    with services.session(read_only=True) as session:
        alerts = list(
            session.execute(select(Alert).order_by(col(Alert.id).desc()).limit(limit)).scalars()
        )
        ids = [alert.id for alert in alerts]
        counts: dict[int, dict[str, int]] = {}
        if ids:
            rows = session.execute(
                select(col(Delivery.alert_id), col(Delivery.state), func.count())
                .where(col(Delivery.alert_id).in_(ids))
                .group_by(col(Delivery.alert_id), col(Delivery.state))
            ).all()
            for alert_id, state, count in rows:
                counts.setdefault(alert_id, {})[state] = count
    history = []
    for alert in alerts:
        states = counts.get(alert.id or 0, {})
        history.append(
            {
                "alert_id": alert.id,
                "kind": alert.kind,
                "state": alert.state,
                "urgent": alert.urgent,
                "created_at": format_local(alert.created_at, tz),
                "scheduled_for": (
                    format_local(alert.scheduled_for, tz) if alert.scheduled_for else None
                ),
                "recipients": alert.recipients,
                "sent": sum(states.get(state, 0) for state in SENT_STATES),
                "failed": states.get("failed", 0),
                "correction_of": alert.correction_of,
                "text": alert.body_fr,
            }
        )
    return history
