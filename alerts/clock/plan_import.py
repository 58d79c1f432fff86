"""Plans from files: an iCalendar (.ics) or CSV week of operations, imported idempotently.

Each event has a stable id (the iCalendar UID, a CSV `id` column, or else a digest of the
row), so importing the same file twice changes nothing and a changed event is rescheduled.
Every event is checked before any is stored: one bad event stops the import.

A plan is re-imported as the week goes on, so two kinds of event are left as they are: one
already over (stored or not: nobody is left to tell), and one whose operation an operator
cancelled (its residents were told; the file does not bring it back).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from icalendar import Calendar, Component
from sqlalchemy import select
from sqlmodel import col

from alerts.clock.operations import (
    OperationOver,
    OperationSpec,
    Resolved,
    add_operation,
    cancel_operation,
    reschedule_operation,
    resolve_operation,
)
from alerts.core.local_time import parse_local_time
from alerts.core.progress import Progress, ignore_progress
from alerts.errors import AlertsError, InvalidInput
from alerts.gateways.documents import require_import_file
from alerts.places.places import zone_by_name
from alerts.storage.audit import record_action
from alerts.storage.models import Operation
from alerts.wiring import Services
from zones.errors import ZoneError

_KIND_WORDS = {
    "snow": "snow", "neige": "snow", "deneigement": "snow", "déneigement": "snow",
    "snow removal": "snow", "radar": "radar", "photoradar": "radar", "photo radar": "radar",
}  # fmt: skip


class PlanError(InvalidInput):
    """An event of a plan file that cannot be used; names the event."""


@dataclass
class PlanReport:
    """What importing a plan did."""

    added: int = 0
    unchanged: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    past: int = 0  # events already over and never stored: skipped
    operation_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `alerts operations import`."""
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "rescheduled": self.rescheduled,
            "cancelled": self.cancelled,
            "past": self.past,
            "operations": self.operation_ids,
        }


@dataclass(frozen=True)
class _Event:
    where: str  # for messages: "event UID x" or "line 4"
    spec: OperationSpec
    cancelled: bool = False


def import_plan(
    services: Services, path: str | Path, *, progress: Progress | None = None
) -> PlanReport:
    """Import an .ics or .csv plan; a re-import of the same file changes nothing."""
    tell = progress or ignore_progress
    path = Path(path)
    require_import_file(path)
    tell("reading the plan", 0, None)
    events = (
        _read_ics(services, path)
        if path.suffix.lower() in (".ics", ".ical")
        else _read_csv(services, path)
    )
    seen: set[str | None] = set()
    for event in events:
        if event.spec.external_id in seen:
            raise PlanError(f"{path.name}, {event.where}: this event appears twice in the file")
        seen.add(event.spec.external_id)
    stored = _stored_operations(services, [event.spec.external_id for event in events])
    report = PlanReport()
    checked: list[tuple[_Event, Resolved | None, Operation | None]] = []
    for done, event in enumerate(events):
        tell("checking operations", done, len(events))
        existing = stored.get(event.spec.external_id or "")
        if event.cancelled:
            checked.append((event, None, existing))
            continue
        if existing is not None and existing.status == "cancelled":
            report.unchanged += 1
            continue
        try:
            checked.append((event, resolve_operation(services, event.spec), existing))
        except OperationOver:
            if existing is None:
                report.past += 1
            else:
                report.unchanged += 1
        except (AlertsError, ZoneError) as exc:
            raise PlanError(f"{path.name}, {event.where}: {exc}") from None
    for done, (event, resolved, existing) in enumerate(checked):
        tell("storing operations", done, len(checked))
        _apply(services, event, resolved, existing, report)
    tell("storing operations", len(checked), len(checked))
    # Each operation added, moved or cancelled has its own entry, written with it.
    with services.session() as session:
        record_action(
            session, services.operator, "operations.import", path.name, now=services.clock(),
            **{key: value for key, value in report.as_dict().items() if key != "operations"},
        )  # fmt: skip
    return report


def _stored_operations(services: Services, external_ids: list[str | None]) -> dict[str, Operation]:
    """The operations already stored for these events, by external id."""
    wanted = sorted({external_id for external_id in external_ids if external_id})
    with services.session(read_only=True) as session:
        rows = session.execute(select(Operation).where(col(Operation.external_id).in_(wanted)))
        return {op.external_id: op for op in rows.scalars() if op.external_id}


def _apply(
    services: Services,
    event: _Event,
    resolved: Resolved | None,
    existing: Operation | None,
    report: PlanReport,
) -> None:
    if event.cancelled:
        if existing is not None and existing.status != "cancelled" and existing.id is not None:
            cancel_operation(services, existing.id)
            report.cancelled += 1
        return
    assert resolved is not None
    if existing is None:
        shown = add_operation(services, event.spec)
        report.added += 1
        report.operation_ids.append(shown["id"])
        return
    assert existing.id is not None
    report.operation_ids.append(existing.id)
    if existing.fingerprint == resolved.fingerprint and existing.status == "planned":
        report.unchanged += 1
        return
    reschedule_operation(services, existing.id, resolved, existing)
    report.rescheduled += 1


def _read_ics(services: Services, path: Path) -> list[_Event]:
    try:
        calendar = Calendar.from_ical(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise PlanError(f"{path.name} is not an iCalendar file: {exc}") from None
    events = []
    for vevent in calendar.walk("VEVENT"):
        uid = str(vevent.get("UID") or "").strip()
        where = f"event {uid or vevent.get('SUMMARY', '?')}"
        if not uid:
            raise PlanError(f"{path.name}, {where}: an event needs a UID (its stable id)")
        kind = _kind(_categories(vevent), f"{path.name}, {where}")
        location = str(vevent.get("LOCATION") or "").strip()
        zones, place = _zones_or_place(services, location)
        start, end = (
            _ics_time(services, vevent, "DTSTART", path, where),
            _ics_time(services, vevent, "DTEND", path, where),
        )
        spec = OperationSpec(
            kind=kind, start=start, end=end, zones=zones, location=place,
            external_id=f"ics:{uid}", source=f"ics:{path.name}",
        )  # fmt: skip
        cancelled = str(vevent.get("STATUS") or "").upper() == "CANCELLED"
        events.append(_Event(where, spec, cancelled))
    if not events:
        raise PlanError(f"{path.name} holds no VEVENT")
    return events


def _categories(vevent: Component) -> str:
    value = vevent.get("CATEGORIES")
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    words: list[str] = []
    for item in items:
        words.extend(str(cat) for cat in getattr(item, "cats", [item]))
    return ",".join(words)


def _kind(text: str, where: str) -> str:
    for word in text.replace(";", ",").split(","):
        kind = _KIND_WORDS.get(word.strip().lower())
        if kind:
            return kind
    raise PlanError(f"{where}: CATEGORIES (or kind) must say snow or radar (got {text!r})")


def _zones_or_place(services: Services, location: str) -> tuple[tuple[str, ...], str | None]:
    """LOCATION as zone names ("A; B") when every part is one, else as a place."""
    if not location:
        return (), None
    parts = [part.strip() for part in location.split(";") if part.strip()]
    try:
        return tuple(zone_by_name(services, part).zone_name for part in parts), None
    except (AlertsError, ZoneError):
        return (), location


def _ics_time(services: Services, vevent: Component, name: str, path: Path, where: str) -> datetime:
    prop = vevent.get(name)
    if prop is None:
        raise PlanError(f"{path.name}, {where}: {name} is missing")
    value = prop.dt
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        # A floating time is a wall-clock time of the service's own zone.
        return parse_local_time(value.isoformat(timespec="minutes"), services.settings.service.tz)
    if isinstance(value, date):
        raise PlanError(f"{path.name}, {where}: {name} is a whole day; give a time")
    raise PlanError(f"{path.name}, {where}: cannot read {name}")


_CSV_COLUMNS = ("kind", "start", "end", "zones", "location")


def _read_csv(services: Services, path: Path) -> list[_Event]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in ("kind", "start", "end") if name not in header]
        if missing or not ({"zones", "location"} & set(header)):
            raise PlanError(
                f"{path.name}: the header must name {', '.join(_CSV_COLUMNS)} (and optionally id)"
            )
        reader.fieldnames = header
        events = []
        for row in reader:
            where = f"line {reader.line_num}"
            cells = {key: (value or "").strip() for key, value in row.items() if key}
            zones = tuple(z.strip() for z in cells.get("zones", "").split(";") if z.strip())
            stable = (
                cells.get("id")
                or hashlib.sha256(
                    "|".join(cells.get(c, "") for c in _CSV_COLUMNS).encode()
                ).hexdigest()[:24]
            )
            spec = OperationSpec(
                kind=_kind(cells.get("kind", ""), f"{path.name}, {where}"),
                start=cells.get("start", ""), end=cells.get("end", ""), zones=zones,
                location=cells.get("location") or None, external_id=f"csv:{stable}",
                source=f"csv:{path.name}",
            )  # fmt: skip
            events.append(_Event(where, spec, cells.get("status", "").lower() == "cancelled"))
    if not events:
        raise PlanError(f"{path.name} holds no operation")
    return events
