"""Planned operations: entered once, their notice, reminder and all-clear send themselves.

Cancelling or moving an operation reschedules what is still pending; a notice that already
went out gets a correction ("opération annulée" / "reportée") to the people it reached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from alerts.clock.notices import CANCELLED, SCHEDULED, SENT, arm, notice_dict
from alerts.clock.operation_messages import TEMPLATES, operation_request, operation_variables
from alerts.core.composition import MessageSpec, join_names
from alerts.core.local_time import format_local, parse_local_time
from alerts.core.schedule_rules import parse_duration, release_time
from alerts.errors import InvalidInput, InvalidOption, NotFound, UsageError
from alerts.places.places import resolve, zone_by_name
from alerts.sending.cancelling import cancel_alert
from alerts.sending.sending import prepare_alert
from alerts.storage.audit import record_action
from alerts.storage.models import Notice, Operation
from alerts.wiring import Services
from zones.errors import ZoneError

OPERATION_KINDS = ("snow", "radar")


class OperationOver(InvalidInput):
    """An operation whose end has already passed: nothing is left to tell anyone."""


class OperationNotFound(NotFound):
    """No operation has this id."""

    def __init__(self, operation_id: int) -> None:
        super().__init__(f"no operation with id {operation_id}")


@dataclass(frozen=True)
class OperationSpec:
    """An operation as an operator or a plan file gives it."""

    kind: str
    start: str | datetime
    end: str | datetime
    zones: tuple[str, ...] = ()
    location: str | None = None
    notice_before: str | None = None
    reminder_before: str | None = None
    all_clear: bool | None = None
    urgent: bool = False
    external_id: str | None = None
    source: str = "cli"


@dataclass(frozen=True)
class Resolved:
    """An operation spec checked and resolved: times in UTC, zones with their ids."""

    spec: OperationSpec
    start_at: datetime
    end_at: datetime
    zone_ids: tuple[int, ...]
    zone_names: tuple[str, ...]
    lon: float | None
    lat: float | None
    radius_m: float | None
    notice_before: timedelta
    reminder_before: timedelta | None
    all_clear: bool

    @property
    def fingerprint(self) -> str:
        """What a re-import compares: kind, times, zones and place."""
        key = "|".join(
            [
                self.spec.kind,
                self.start_at.isoformat(),
                self.end_at.isoformat(),
                ";".join(sorted(self.zone_names)),
                self.spec.location or "",
            ]
        )
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def resolve_operation(services: Services, spec: OperationSpec) -> Resolved:
    """Check an operation and resolve its times and zones; nothing is written."""
    settings = services.settings
    if spec.kind not in OPERATION_KINDS:
        raise UsageError(f"unknown operation kind {spec.kind!r} (use snow or radar)")
    tz = settings.service.tz
    start = spec.start if isinstance(spec.start, datetime) else parse_local_time(spec.start, tz)
    end = spec.end if isinstance(spec.end, datetime) else parse_local_time(spec.end, tz)
    if end <= start:
        raise InvalidOption("an operation must end after it starts")
    if end <= services.clock():
        raise OperationOver(f"this operation is already over ({format_local(end, tz)})")
    ids, names, lon, lat, radius = _where(services, spec)
    schedule = settings.schedule
    notice = parse_duration(spec.notice_before or schedule.notice_before)
    reminder_text = (
        spec.reminder_before if spec.reminder_before is not None else schedule.reminder_before
    )
    reminder = parse_duration(reminder_text) or None
    all_clear = schedule.all_clear if spec.all_clear is None else spec.all_clear
    return Resolved(
        spec, start, end, ids, names, lon, lat, radius, notice, reminder,
        all_clear and spec.kind == "snow",
    )  # fmt: skip


def _where(
    services: Services, spec: OperationSpec
) -> tuple[tuple[int, ...], tuple[str, ...], float | None, float | None, float | None]:
    """The zones an operation reaches: named ones, or around its place (radar: a radius)."""
    if spec.zones:
        places = [zone_by_name(services, name) for name in spec.zones]
        ids = tuple(dict.fromkeys(p.zone_id for p in places))
        names = tuple(dict.fromkeys(p.zone_name for p in places))
        return ids, names, None, None, None
    if not spec.location:
        raise UsageError("give the operation's zones (--zone) or its place (--location)")
    try:
        match = resolve(services, spec.location)
    except ZoneError as exc:
        raise InvalidInput(f"location {spec.location!r}: {exc}") from None
    stored = services.zones.stored()
    if match.lon is None or match.lat is None:
        if match.zone is None:
            raise InvalidInput(f"location {spec.location!r} is ambiguous; name the zone(s)")
        return (stored.zone_id(match.zone.index),), (match.zone.name,), None, None, None
    radius = services.settings.schedule.radar_radius_m if spec.kind == "radar" else None
    if radius is not None:
        zones = stored.layer.zones_within(match.lon, match.lat, radius)
    else:
        zones = [match.zone] if match.zone is not None else []
    if not zones:
        raise InvalidInput(f"location {spec.location!r} lies outside every zone")
    ids = tuple(stored.zone_id(zone.index) for zone in zones)
    return ids, tuple(zone.name for zone in zones), match.lon, match.lat, radius


def add_operation(services: Services, spec: OperationSpec) -> dict[str, Any]:
    """Store an operation and arm its notices; returns it as listed."""
    resolved = resolve_operation(services, spec)
    check_texts(services, resolved)
    with services.session() as session:
        operation = Operation(
            kind=resolved.spec.kind, created_at=services.clock(), updated_at=services.clock()
        )
        _fill(operation, resolved)
        session.add(operation)
        session.flush()
        armed = _plan_notices(services, session, operation)
        operation_id = operation.id
        _record(services, session, "operations.add", operation)
    arm(services, armed)
    assert operation_id is not None
    return show_operation(services, operation_id)


def check_texts(services: Services, resolved: Resolved) -> None:
    """Compose every notice the operation will send, so a text too long fails now."""
    probe = Operation(kind=resolved.spec.kind)
    _fill(probe, resolved)
    for (kind, _), template in TEMPLATES.items():
        if kind == probe.kind:
            prepare_alert(
                services, operation_request(probe, template, services.settings.service.tz)
            )


def _fill(operation: Operation, resolved: Resolved) -> None:
    spec = resolved.spec
    operation.kind, operation.location, operation.urgent = spec.kind, spec.location, spec.urgent
    operation.external_id, operation.source = spec.external_id, spec.source
    operation.start_at, operation.end_at = resolved.start_at, resolved.end_at
    operation.zone_ids, operation.zone_names = list(resolved.zone_ids), list(resolved.zone_names)
    operation.lon, operation.lat, operation.radius_m = resolved.lon, resolved.lat, resolved.radius_m
    operation.notice_before_s = int(resolved.notice_before.total_seconds())
    operation.reminder_before_s = (
        int(resolved.reminder_before.total_seconds()) if resolved.reminder_before else None
    )
    operation.all_clear = resolved.all_clear
    operation.fingerprint = resolved.fingerprint
    operation.status = "planned"


def _plan_notices(
    services: Services, session: Session, operation: Operation, skip: frozenset[str] = frozenset()
) -> list[tuple[int, datetime, int]]:
    """Write an operation's pending notices; returns them for the job store."""
    now = services.clock()
    notice_at = max(operation.start_at - timedelta(seconds=operation.notice_before_s), now)
    wanted: list[tuple[str, datetime]] = []
    if "notice" not in skip:
        wanted.append(("notice", notice_at))
    if operation.reminder_before_s:
        reminder_at = operation.start_at - timedelta(seconds=operation.reminder_before_s)
        if reminder_at > notice_at and reminder_at > now:
            wanted.append(("reminder", reminder_at))
    if operation.all_clear:
        wanted.append(("all_clear", operation.end_at))
    grace = services.settings.schedule.grace(operation.kind)
    quiet_hours, tz = services.settings.schedule.quiet_hours, services.settings.service.tz
    armed = []
    for kind, due in wanted:
        when = release_time(due, quiet_hours, tz, urgent=operation.urgent)
        status, detail = SCHEDULED, None
        if when != due and kind != "all_clear" and when >= operation.start_at:
            status, detail = CANCELLED, "quiet hours would delay it past the start"
        notice = Notice(
            operation_id=operation.id, kind=kind, due_at=when, status=status,
            urgent=operation.urgent, detail=detail, created_at=now,
        )  # fmt: skip
        session.add(notice)
        session.flush()
        if status == SCHEDULED and notice.id is not None:
            armed.append((notice.id, when, grace))
    return armed


def _load(session: Session, operation_id: int) -> Operation:
    operation = session.get(Operation, operation_id, with_for_update=True)
    if operation is None:
        raise OperationNotFound(operation_id)
    return operation


def _drop_pending(session: Session, operation_id: int) -> tuple[list[Notice], list[int]]:
    """Cancel an operation's scheduled notices: (those already sent, the ids cancelled)."""
    notices = (
        session.execute(
            select(Notice)
            .where(col(Notice.operation_id) == operation_id)
            .order_by(col(Notice.due_at))
        )
        .scalars()
        .all()
    )
    dropped = [n.id for n in notices if n.status == SCHEDULED and n.id is not None]
    session.execute(
        update(Notice)
        .where(col(Notice.operation_id) == operation_id, col(Notice.status) == SCHEDULED)
        .values(status=CANCELLED, detail="operation changed")
    )
    told = [n for n in notices if n.status == SENT and n.kind in ("notice", "reminder")]
    return told, dropped


def _disarm(services: Services, notice_ids: list[int]) -> None:
    """Take cancelled notices' jobs out of the store (after the transaction: SQLite has one
    writer, and the job store writes on its own connection)."""
    timer = services.timer
    for notice_id in notice_ids:
        timer.remove_notice(notice_id)


def cancel_operation(services: Services, operation_id: int) -> dict[str, Any]:
    """Cancel an operation: pending notices dropped, a correction to those already told.

    Cancelling it again changes nothing and says so (`already_cancelled`).
    """
    with services.session() as session:
        operation = _load(session, operation_id)
        if operation.status == "cancelled":
            return {**operation_dict(services, session, operation), "already_cancelled": True}
        told, dropped = _drop_pending(session, operation_id)
        operation.status, operation.updated_at = "cancelled", services.clock()
        session.add(operation)
        _record(services, session, "operations.cancel", operation, told=len(told) or None)
    _disarm(services, dropped)
    _correct(services, operation, told, "cancelled")
    return {**show_operation(services, operation_id), "already_cancelled": False}


def move_operation(
    services: Services, operation_id: int, start: str | datetime, end: str | datetime
) -> dict[str, Any]:
    """Move an operation: notices rescheduled; those already told get a correction."""
    with services.session(read_only=True) as session:
        current = session.get(Operation, operation_id)
        if current is None:
            raise OperationNotFound(operation_id)
    spec = OperationSpec(
        kind=current.kind, start=start, end=end, zones=tuple(current.zone_names),
        location=current.location, notice_before=f"{current.notice_before_s}s",
        reminder_before=f"{current.reminder_before_s or 0}s",
        all_clear=current.all_clear, urgent=current.urgent,
        external_id=current.external_id, source=current.source,
    )  # fmt: skip
    return reschedule_operation(services, operation_id, resolve_operation(services, spec), current)


def reschedule_operation(
    services: Services, operation_id: int, resolved: Resolved, before: Operation
) -> dict[str, Any]:
    """Give an operation new times or places; notices redone, corrections where told."""
    check_texts(services, resolved)
    with services.session() as session:
        operation = _load(session, operation_id)
        told, dropped = _drop_pending(session, operation_id)
        _fill(operation, resolved)
        operation.updated_at = services.clock()
        session.add(operation)
        skip = frozenset({"notice"}) if told else frozenset()  # the correction tells them
        armed = _plan_notices(services, session, operation, skip)
        tz = services.settings.service.tz
        was = {"start": format_local(before.start_at, tz), "end": format_local(before.end_at, tz)}
        _record(services, session, "operations.move", operation, was=was)
    _disarm(services, dropped)
    arm(services, armed)
    if told and (resolved.start_at, resolved.end_at) != (before.start_at, before.end_at):
        _correct(services, operation, told, "moved")
    return show_operation(services, operation_id)


def _record(
    services: Services, session: Session, action: str, operation: Operation, **detail: Any
) -> None:
    """The operator's change to an operation, in the audit trail (a plan file is its source)."""
    tz = services.settings.service.tz
    record_action(
        session, services.operator, action, f"operation {operation.id}", now=services.clock(),
        kind=operation.kind, start=format_local(operation.start_at, tz),
        end=format_local(operation.end_at, tz), zones=list(operation.zone_names),
        source=operation.source if operation.source != "cli" else None, **detail,
    )  # fmt: skip


def _correct(services: Services, operation: Operation, told: list[Notice], what: str) -> None:
    """Text a correction to the people the latest sent notice reached."""
    sent = [n for n in told if n.alert_id is not None]
    if not sent:
        return
    latest = sent[-1]
    assert latest.alert_id is not None
    service = services.settings.service
    common = {
        lang: {"service": name, "zone": join_names(operation.zone_names, lang)}
        for lang, name in (("fr", service.name_fr), ("en", service.name_en))
    }
    spec = MessageSpec(
        template=f"{operation.kind}_{what}",
        variables=operation_variables(operation, service.tz),
    )
    result = cancel_alert(services, latest.alert_id, notify=spec, common=common)
    with services.session() as session:
        session.add(
            Notice(
                operation_id=operation.id, kind="correction", due_at=services.clock(),
                status=SENT, urgent=True, detail=what, alert_id=result.correction_id,
                fired_at=services.clock(), late_seconds=0.0,
            )
        )  # fmt: skip


def operation_dict(services: Services, session: Session, operation: Operation) -> dict[str, Any]:
    """An operation as `alerts operations list --json` shows it."""
    tz = services.settings.service.tz
    now = services.clock()
    status = operation.status
    if status == "planned":
        if operation.end_at <= now:
            status = "done"
        elif operation.start_at <= now:
            status = "in_progress"
    notices = session.execute(
        select(Notice)
        .where(col(Notice.operation_id) == operation.id)
        .order_by(col(Notice.due_at), col(Notice.id))
    ).scalars()
    return {
        "id": operation.id,
        "kind": operation.kind,
        "start": format_local(operation.start_at, tz),
        "end": format_local(operation.end_at, tz),
        "zones": list(operation.zone_names),
        "location": operation.location,
        "status": status,
        "external_id": operation.external_id,
        "notices": [notice_dict(notice, tz) for notice in notices],
    }


def show_operation(services: Services, operation_id: int) -> dict[str, Any]:
    """One operation with its notices."""
    with services.session(read_only=True) as session:
        operation = session.get(Operation, operation_id)
        if operation is None:
            raise OperationNotFound(operation_id)
        return operation_dict(services, session, operation)


def list_operations(services: Services) -> list[dict[str, Any]]:
    """Every operation, soonest first."""
    with services.session(read_only=True) as session:
        operations = session.execute(
            select(Operation).order_by(col(Operation.start_at), col(Operation.id))
        ).scalars()
        return [operation_dict(services, session, operation) for operation in operations]
