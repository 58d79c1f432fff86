"""Recurring notices: an alert repeated at wall-clock times (a weekly radar round, say).

Each occurrence is recorded as a notice (one per due time: two processes cannot both record
it) and then fired like any notice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from alerts.clock.notices import arm, fire_notice
from alerts.clock.operation_messages import stored_request
from alerts.core.schedule_rules import parse_recurrence, release_time
from alerts.errors import NotFound, UsageError
from alerts.sending.sending import AlertRequest, prepare_alert
from alerts.storage.audit import record_action
from alerts.storage.jobs import recurrence_trigger
from alerts.storage.models import Notice, Recurrence
from alerts.wiring import Services


def add_recurrence(services: Services, request: AlertRequest, schedule: str) -> dict[str, Any]:
    """Store a recurring alert after checking it as a send would; arms its cron job."""
    canonical = parse_recurrence(schedule).describe()
    if request.at is not None:
        raise UsageError("--every and --at do not go together")
    draft = prepare_alert(services, request)  # every mistake is refused now, not at 19:00
    drawn = draft.target.geometry if draft.target.kind == "area" else None
    with services.session() as session:
        recurrence = Recurrence(
            kind=request.kind,
            schedule=canonical,
            request=stored_request(request, mapping(drawn) if drawn is not None else None),
            created_at=services.clock(),
        )
        session.add(recurrence)
        session.flush()
        recurrence_id = recurrence.id
        record_action(
            session, services.operator, "send.every", f"recurrence {recurrence_id}",
            now=services.clock(), kind=request.kind, schedule=canonical,
            target=draft.target.kind, zones=list(draft.target.zone_names) or None,
            recipients=draft.recipients, urgent=request.urgent or None,
        )  # fmt: skip
    assert recurrence_id is not None
    settings = services.settings
    services.timer.add_recurrence(
        recurrence_id, canonical, settings.service.tz, settings.schedule.grace(request.kind)
    )
    return {"id": recurrence_id, "kind": request.kind, "schedule": canonical, "status": "active"}


def cancel_recurrence(services: Services, recurrence_id: int) -> None:
    """Stop a recurring alert; notices it already sent stay in the history."""
    with services.session() as session:
        recurrence = session.get(Recurrence, recurrence_id, with_for_update=True)
        if recurrence is None:
            raise NotFound(f"no recurring notice with id {recurrence_id}")
        recurrence.status = "cancelled"
        session.add(recurrence)
        record_action(
            session, services.operator, "schedule.cancel", f"recurrence {recurrence_id}",
            now=services.clock(), kind=recurrence.kind, schedule=recurrence.schedule,
        )  # fmt: skip
    services.timer.remove_recurrence(recurrence_id)


def list_recurrences(services: Services) -> list[dict[str, Any]]:
    """Every recurring alert."""
    with services.session(read_only=True) as session:
        rows = session.execute(select(Recurrence).order_by(col(Recurrence.id))).scalars()
        return [
            {"id": r.id, "kind": r.kind, "schedule": r.schedule, "status": r.status} for r in rows
        ]


def fire_recurrence(services: Services, recurrence_id: int, due: datetime | None = None) -> None:
    """Record this occurrence of a recurring schedule as a notice, then fire it once.

    An occurrence that falls in quiet hours (and is not urgent) is recorded for their end and
    armed like any notice, instead of being sent now.
    """
    with services.session(read_only=True) as session:
        recurrence = session.get(Recurrence, recurrence_id)
        if recurrence is None or recurrence.status != "active":
            return
        schedule, kind = recurrence.schedule, recurrence.kind
        urgent = bool(recurrence.request.get("urgent"))
    settings = services.settings
    tz = settings.service.tz
    due = due or latest_fire_time(schedule, tz, services.clock())
    release = release_time(due, settings.schedule.quiet_hours, tz, urgent=urgent)
    notice_id = record_occurrence(services, recurrence_id, release)
    if notice_id is None:
        return
    if release > due:
        arm(services, [(notice_id, release, settings.schedule.grace(kind))])
        return
    fire_notice(services, notice_id)


def record_occurrence(
    services: Services, recurrence_id: int, due: datetime, status: str = "scheduled"
) -> int | None:
    """The notice of one occurrence; None when another process recorded it first."""
    try:
        with services.session() as session:
            notice = Notice(
                recurrence_id=recurrence_id, kind="recurring", due_at=due, status=status
            )
            session.add(notice)
            session.flush()
            return notice.id
    except IntegrityError:
        return None


def latest_fire_time(schedule: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The last wall-clock time of a schedule at or before `now` (aware UTC)."""
    trigger = recurrence_trigger(schedule, tz)
    moment = trigger.get_next_fire_time(None, now - timedelta(days=8))
    latest = moment
    while moment is not None and moment <= now:
        latest = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    assert latest is not None
    return latest.astimezone(UTC)
