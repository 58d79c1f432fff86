"""The clock's notices: armed as jobs, fired exactly once, missed out loud, listed, cancelled.

The `notice` table is the durable truth; APScheduler's job store is the timer. Firing claims
the row (scheduled -> sent) in the same transaction that writes the alert and its deliveries,
so two schedulers, a retried job or a crash can never send a notice twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlmodel import Session, col

from alerts.clock.operation_messages import request_for
from alerts.core.local_time import format_local
from alerts.errors import NotFound, UsageError
from alerts.sending.sending import prepare_alert, release_scheduled_alert, write_alert
from alerts.storage.audit import record_action
from alerts.storage.db import rowcount
from alerts.storage.models import Alert, Notice, Operation, Recurrence
from alerts.wiring import Services

log = logging.getLogger(__name__)

SCHEDULED, SENT, MISSED, CANCELLED, FAILED = "scheduled", "sent", "missed", "cancelled", "failed"


class NoticeNotFound(NotFound):
    """No notice has this id."""

    def __init__(self, notice_id: int) -> None:
        super().__init__(f"no scheduled notice with id {notice_id}")


def alert_kind(session: Session, notice: Notice) -> str:
    """The kind of alert a notice sends (snow, radar or info), which sets its grace."""
    if notice.operation_id is not None:
        operation = session.get(Operation, notice.operation_id)
        return operation.kind if operation else "info"
    if notice.recurrence_id is not None:
        recurrence = session.get(Recurrence, notice.recurrence_id)
        return recurrence.kind if recurrence else "info"
    if notice.alert_id is not None:
        alert = session.get(Alert, notice.alert_id)
        return alert.kind if alert else "info"
    return "info"


def arm(services: Services, notices: list[tuple[int, datetime, int]]) -> None:
    """Give notices (id, due time, grace seconds) to the scheduler's job store."""
    timer = services.timer
    for notice_id, due_at, grace in notices:
        timer.add_notice(notice_id, due_at, grace)


@dataclass(frozen=True)
class Firing:
    """What firing a notice did."""

    notice_id: int
    status: str
    alert_id: int | None = None
    late_seconds: float = 0.0


def fire_notice(services: Services, notice_id: int) -> Firing:
    """Send a due notice once: its alert is written in the transaction that claims it."""
    now = services.clock()
    with services.session(read_only=True) as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise NoticeNotFound(notice_id)
        if notice.status != SCHEDULED:
            return Firing(notice_id, notice.status, notice.alert_id)
        late = (now - notice.due_at).total_seconds()
        grace = services.settings.schedule.grace(alert_kind(session, notice))
        kind, alert_id = notice.kind, notice.alert_id
        request = None if kind == "alert" else request_for(services, session, notice)
    if late > grace:
        mark_missed(services, notice_id, f"late by {late:.0f} s (grace {grace} s)")
        return Firing(notice_id, MISSED, late_seconds=late)
    if kind == "alert":
        return _release(services, notice_id, alert_id, now, late)
    assert request is not None
    draft = prepare_alert(services, request)
    with services.session() as session:
        if not _claim(session, notice_id, now, late):
            return Firing(notice_id, "skipped")
        queued = write_alert(services, session, draft)
        session.execute(
            update(Notice).where(col(Notice.id) == notice_id).values(alert_id=queued.alert_id)
        )
    log.info("notice %s sent as alert %s, %.2f s after its time", notice_id, queued.alert_id, late)
    return Firing(notice_id, SENT, queued.alert_id, late)


def _release(
    services: Services, notice_id: int, alert_id: int | None, now: datetime, late: float
) -> Firing:
    # Releasing is idempotent (only a "scheduled" alert fans out), so a crash between the two
    # steps only leaves a notice to claim again, never a second set of deliveries.
    if alert_id is not None:
        release_scheduled_alert(services, alert_id)
    with services.session() as session:
        if not _claim(session, notice_id, now, late):
            return Firing(notice_id, "skipped", alert_id)
    log.info("notice %s released alert %s, %.2f s after its time", notice_id, alert_id, late)
    return Firing(notice_id, SENT, alert_id, late)


def _claim(session: Session, notice_id: int, now: datetime, late: float) -> bool:
    claimed = session.execute(
        update(Notice)
        .where(col(Notice.id) == notice_id, col(Notice.status) == SCHEDULED)
        .values(status=SENT, fired_at=now, late_seconds=max(late, 0.0))
    )
    return rowcount(claimed) == 1


def mark_missed(services: Services, notice_id: int, why: str) -> bool:
    """A notice too late to be useful: marked missed, logged, never sent."""
    with services.session() as session:
        changed = rowcount(
            session.execute(
                update(Notice)
                .where(col(Notice.id) == notice_id, col(Notice.status) == SCHEDULED)
                .values(status=MISSED, detail=why)
            )
        )
        notice = session.get(Notice, notice_id)
        if changed and notice is not None and notice.kind == "alert" and notice.alert_id:
            session.execute(
                update(Alert)
                .where(col(Alert.id) == notice.alert_id, col(Alert.state) == "scheduled")
                .values(state="cancelled", cancelled_at=services.clock(), error=f"missed: {why}")
            )
    if changed:
        log.warning("notice %s missed: %s; not sent", notice_id, why)
    return bool(changed)


def cancel_notice(services: Services, notice_id: int) -> None:
    """Cancel a notice not sent yet (a scheduled alert is cancelled with it)."""
    with services.session() as session:
        notice = session.get(Notice, notice_id, with_for_update=True)
        if notice is None:
            raise NoticeNotFound(notice_id)
        if notice.status != SCHEDULED:
            raise UsageError(f"notice {notice_id} is {notice.status}, not scheduled")
        notice.status = CANCELLED
        session.add(notice)
        record_action(
            session, services.operator, "schedule.cancel", f"notice {notice_id}",
            now=services.clock(), kind=notice.kind, alert=notice.alert_id,
            operation=notice.operation_id,
        )  # fmt: skip
        if notice.kind == "alert" and notice.alert_id:
            session.execute(
                update(Alert)
                .where(col(Alert.id) == notice.alert_id, col(Alert.state) == "scheduled")
                .values(state="cancelled", cancelled_at=services.clock())
            )
    services.timer.remove_notice(notice_id)


def notice_dict(notice: Notice, tz: ZoneInfo) -> dict[str, Any]:
    """A notice as listed: times in the service zone, ISO 8601 with offset."""
    return {
        "id": notice.id,
        "kind": notice.kind,
        "due": format_local(notice.due_at, tz),
        "status": notice.status,
        "alert_id": notice.alert_id,
        "operation_id": notice.operation_id,
        "urgent": notice.urgent,
        "late_seconds": None if notice.late_seconds is None else round(notice.late_seconds, 3),
        "detail": notice.detail,
    }


def list_notices(services: Services, *, days_back: int = 7) -> list[dict[str, Any]]:
    """Upcoming notices, then those sent, missed or cancelled in the last days."""
    since = services.clock() - timedelta(days=days_back)
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(Notice)
            .where((col(Notice.status) == SCHEDULED) | (col(Notice.due_at) >= since))
            .order_by(col(Notice.due_at), col(Notice.id))
        ).scalars()
        return [notice_dict(notice, services.settings.service.tz) for notice in rows]


def pending_notices(services: Services) -> list[tuple[int, datetime, int]]:
    """Every scheduled notice with its grace: what the job store must hold."""
    with services.session(read_only=True) as session:
        notices = session.execute(select(Notice).where(col(Notice.status) == SCHEDULED)).scalars()
        return [
            (n.id, n.due_at, services.settings.schedule.grace(alert_kind(session, n)))
            for n in notices
            if n.id is not None
        ]
