"""Recurring notices: an alert repeated at wall-clock times (a weekly radar round, say)."""

from __future__ import annotations

from typing import Any

from shapely.geometry import mapping

from alerts.errors import NotFound, UsageError
from alerts.models import Recurrence
from alerts.operation_messages import stored_request
from alerts.schedule_rules import parse_recurrence
from alerts.sending import AlertRequest, prepare_alert
from alerts.wiring import Services


def add_recurrence(services: Services, request: AlertRequest, schedule: str) -> dict[str, Any]:
    """Store a recurring alert after checking it as a send would; arms its cron job."""
    from alerts.scheduler import timer_for

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
    assert recurrence_id is not None
    settings = services.settings
    timer_for(services).add_recurrence(
        recurrence_id, canonical, settings.service.tz, settings.schedule.grace(request.kind)
    )
    return {"id": recurrence_id, "kind": request.kind, "schedule": canonical, "status": "active"}


def cancel_recurrence(services: Services, recurrence_id: int) -> None:
    """Stop a recurring alert; notices it already sent stay in the history."""
    from alerts.scheduler import timer_for

    with services.session() as session:
        recurrence = session.get(Recurrence, recurrence_id, with_for_update=True)
        if recurrence is None:
            raise NotFound(f"no recurring notice with id {recurrence_id}")
        recurrence.status = "cancelled"
        session.add(recurrence)
    timer_for(services).remove_recurrence(recurrence_id)


def list_recurrences(services: Services) -> list[dict[str, Any]]:
    """Every recurring alert."""
    from sqlalchemy import select
    from sqlmodel import col

    with services.session(read_only=True) as session:
        rows = session.execute(select(Recurrence).order_by(col(Recurrence.id))).scalars()
        return [
            {"id": r.id, "kind": r.kind, "schedule": r.schedule, "status": r.status} for r in rows
        ]
