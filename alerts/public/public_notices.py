"""What the public sees: current, upcoming and recent notices, and the state of each zone.

The page, the zone map, the Atom and GeoJSON feeds and the CAP documents all follow these
rules, read from the tables only (operations and their notices are written elsewhere):

- Every alert is public except a failed one (the provider refused its text).
- `effective` is when an alert is (or was) sent: its scheduled time, else its creation.
- An alert sent as the notice or reminder of a planned operation is about the operation's
  window: onset = start, expires = end. Any other alert (an operator's alert, an all-clear,
  a correction, a recurring notice) is about its own time: onset = effective, expires =
  effective + web.alert_hours.
- At a moment, an alert is upcoming before its onset, current until it expires, past after.
- A cancelled alert, or one of a cancelled operation, is withdrawn: it stays in the Atom
  feed (marked) and its CAP document becomes a Cancel, but it leaves the page, the map and
  alerts.geojson.
- Current and upcoming notices: planned operations that have not ended, and alerts neither
  withdrawn nor past that belong to no such operation. Zone pages add "recent" notices,
  those that ended less than web.feed_days ago; the Atom feed holds every alert not past
  by more than web.feed_days.
- Zone state: in_progress while a planned operation covering the zone is under way;
  scheduled when one will start, or an alert aimed at the zone is still to be sent; none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlmodel import Session, col

from alerts.errors import NotFound
from alerts.storage.models import Alert, Meta, Notice, Operation
from alerts.storage.zone_catalog import ZONES_VERSION, StoredLayer
from alerts.wiring import Services

UPCOMING, CURRENT, PAST = "upcoming", "current", "past"
IN_PROGRESS, SCHEDULED, NONE = "in_progress", "scheduled", "none"
# Notices of an operation that speak of its window (an all-clear speaks of its own time).
_WINDOW_NOTICES = ("notice", "reminder")


class PublicAlertNotFound(NotFound):
    """No public alert has this id."""

    def __init__(self, alert_id: int) -> None:
        super().__init__(f"no public alert with id {alert_id}")


@dataclass(frozen=True)
class ZoneRef:
    """A zone as the public sees it: its database id, layer index, name and slug."""

    id: int
    index: int
    name: str
    slug: str


@dataclass(frozen=True)
class PublicAlert:
    """One alert with its public window and the zones it concerns."""

    id: int
    kind: str
    body_fr: str
    body_en: str
    urgent: bool
    exercise: bool
    zones: tuple[ZoneRef, ...]
    target: dict[str, Any] = field(compare=False)  # the original's target for a correction
    created_at: datetime
    effective: datetime
    onset: datetime
    expires: datetime
    cancelled_at: datetime | None
    withdrawn: bool
    correction_of: int | None
    operation_id: int | None
    changed_at: datetime

    def phase(self, now: datetime) -> str:
        """upcoming, current or past at `now`."""
        return UPCOMING if now < self.onset else CURRENT if now < self.expires else PAST

    def text(self, lang: str) -> str:
        """The alert's text in `lang`."""
        return self.body_fr if lang == "fr" else self.body_en


@dataclass(frozen=True)
class PublicOperation:
    """A planned operation: snow removal in zones, or photo radar at a site."""

    id: int
    kind: str
    zones: tuple[ZoneRef, ...]
    location: str | None
    start_at: datetime
    end_at: datetime
    changed_at: datetime

    def phase(self, now: datetime) -> str:
        """upcoming, current or past at `now`."""
        return UPCOMING if now < self.start_at else CURRENT if now < self.end_at else PAST


@dataclass(frozen=True)
class Snapshot:
    """Public notices as of one moment, with when they last changed and next will."""

    now: datetime
    layer: StoredLayer = field(repr=False)
    zones: tuple[ZoneRef, ...]
    alerts: tuple[PublicAlert, ...]  # newest effective time first
    operations: tuple[PublicOperation, ...]  # soonest start first
    last_modified: datetime
    valid_until: datetime | None

    def zone(self, slug: str) -> ZoneRef | None:
        """The zone with this slug, if the layer has it."""
        return next((zone for zone in self.zones if zone.slug == slug), None)

    def zone_state(self, zone_id: int) -> str:
        """in_progress, scheduled or none (see the module's rules)."""
        return self._zone_states.get(zone_id, NONE)

    @cached_property
    def _zone_states(self) -> dict[int, str]:
        # One pass over the notices for every zone, rather than one per zone.
        states: dict[int, str] = {}
        for operation in self.operations:
            phase = operation.phase(self.now)
            for zone in operation.zones:
                if phase == CURRENT:
                    states[zone.id] = IN_PROGRESS
                elif phase == UPCOMING and states.get(zone.id) != IN_PROGRESS:
                    states[zone.id] = SCHEDULED
        for alert in self.alerts:
            if alert.effective > self.now and not alert.withdrawn:
                for zone in alert.zones:
                    states.setdefault(zone.id, SCHEDULED)
        return states

    def listed_operations(self, zone_id: int | None = None, recent: bool = False) -> list[Any]:
        """Operations not ended (with `recent`, also those ended lately), for one zone or all."""
        phases = (UPCOMING, CURRENT, PAST) if recent else (UPCOMING, CURRENT)
        return [
            op
            for op in self.operations
            if op.phase(self.now) in phases and _concerns(op.zones, zone_id)
        ]

    def listed_alerts(self, zone_id: int | None = None, recent: bool = False) -> list[Any]:
        """Alerts neither withdrawn nor past that belong to no listed operation."""
        shown_ops = {op.id for op in self.listed_operations(zone_id, recent)}
        phases = (UPCOMING, CURRENT, PAST) if recent else (UPCOMING, CURRENT)
        return [
            alert
            for alert in self.alerts
            if not alert.withdrawn
            and alert.phase(self.now) in phases
            and alert.operation_id not in shown_ops
            and _concerns(alert.zones, zone_id)
        ]

    def active_alerts(self) -> list[PublicAlert]:
        """Alerts current or upcoming and not withdrawn, for the map feed."""
        return [a for a in self.alerts if not a.withdrawn and a.phase(self.now) != PAST]


def _concerns(zones: tuple[ZoneRef, ...], zone_id: int | None) -> bool:
    return zone_id is None or any(zone.id == zone_id for zone in zones)


def _fingerprint_statement() -> Select[Any]:
    # Counts by state walk the state index: a cancellation or a failure is seen without
    # reading the alerts' rows, so the check stays cheap with thousands of alerts.
    parts = [
        select(func.count(col(Alert.id))),
        select(func.max(col(Alert.id))),
        select(func.count(col(Alert.id))).where(col(Alert.state) == "cancelled"),
        select(func.count(col(Alert.id))).where(col(Alert.state) == "failed"),
        select(func.count(col(Operation.id))),
        select(func.max(col(Operation.updated_at))),
        # A notice gets its alert when it fires: linking changes the alert's window.
        select(func.count(col(Notice.alert_id))),
        select(col(Meta.value)).where(col(Meta.key) == ZONES_VERSION),
    ]
    return select(*(part.scalar_subquery() for part in parts))


_FINGERPRINT = _fingerprint_statement()


def fingerprint(session: Session) -> tuple[Any, ...]:
    """A cheap summary that changes whenever a public notice or the layer changes."""
    # Core execution on the session's connection: the ORM layer would double the cost.
    return tuple(session.connection().execute(_FINGERPRINT).one())


def load_snapshot(services: Services, now: datetime) -> Snapshot:
    """Public alerts and operations at `now`: listed, recent, and the Atom feed's window."""
    web = services.settings.web
    keep = timedelta(days=web.feed_days)
    horizon = now - keep - timedelta(hours=web.alert_hours)
    stored = services.zones.stored()
    with services.session(read_only=True) as session:
        recent_ops = (
            select(col(Notice.alert_id))
            .join(Operation, col(Operation.id) == Notice.operation_id)
            .where(col(Notice.alert_id).is_not(None), col(Operation.end_at) >= now - keep)
        )
        rows = session.execute(
            select(Alert).where(
                col(Alert.state) != "failed",
                or_(
                    col(Alert.created_at) >= horizon,
                    col(Alert.scheduled_for) >= horizon,
                    col(Alert.id).in_(recent_ops),
                ),
            )
        ).scalars()
        alerts = _public_alerts(session, stored, web.alert_hours, list(rows))
        operations = session.execute(
            select(Operation).where(
                col(Operation.status) == "planned", col(Operation.end_at) >= now - keep
            )
        ).scalars()
        ops = [_public_operation(stored, op) for op in operations]
    alerts = [a for a in alerts if a.expires + keep > now]
    alerts.sort(key=lambda a: (a.effective, a.id), reverse=True)
    ops.sort(key=lambda op: (op.start_at, op.id))
    moments = [m for a in alerts for m in (a.effective, a.onset, a.expires, a.expires + keep)]
    moments += [m for op in ops for m in (op.start_at, op.end_at, op.end_at + keep)]
    changes = [a.changed_at for a in alerts] + [op.changed_at for op in ops]
    passed = [m for m in moments if m <= now]
    coming = [m for m in moments if m > now]
    zones = _zone_refs(stored)
    return Snapshot(
        now=now,
        layer=stored,
        zones=zones,
        alerts=tuple(alerts),
        operations=tuple(ops),
        last_modified=max([*changes, *passed], default=_EPOCH),
        valid_until=min(coming, default=None),
    )


def load_alert(services: Services, alert_id: int) -> PublicAlert:
    """One public alert, however old; PublicAlertNotFound for a failed or unknown one."""
    stored = services.zones.stored()
    with services.session(read_only=True) as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state == "failed":
            raise PublicAlertNotFound(alert_id)
        found = _public_alerts(session, stored, services.settings.web.alert_hours, [alert])
    return found[0]


def _public_alerts(
    session: Session, stored: StoredLayer, alert_hours: float, rows: list[Alert]
) -> list[PublicAlert]:
    if not rows:
        return []
    ids = [row.id for row in rows]
    links = session.execute(
        select(col(Notice.alert_id), col(Notice.kind), Operation)
        .join(Operation, col(Operation.id) == Notice.operation_id)
        .where(col(Notice.alert_id).in_(ids))
    ).all()
    operation_of = {alert_id: (kind, op) for alert_id, kind, op in links}
    wanted = {row.correction_of for row in rows if row.correction_of} - set(ids)
    originals = {row.id: row for row in rows}
    if wanted:
        found = session.execute(select(Alert).where(col(Alert.id).in_(wanted))).scalars()
        originals.update({row.id: row for row in found})
    return [
        public_alert(
            row,
            *operation_of.get(row.id, (None, None)),
            original=originals.get(row.correction_of) if row.correction_of else None,
            stored=stored,
            alert_hours=alert_hours,
        )
        for row in rows
    ]


def public_alert(
    row: Alert,
    notice_kind: str | None,
    operation: Operation | None,
    *,
    original: Alert | None,
    stored: StoredLayer,
    alert_hours: float,
) -> PublicAlert:
    """An alert as the public sees it: its zones, the window it is current in, whether it
    was withdrawn. A correction takes the zones and exercise flag of the alert it corrects;
    an operation's notice is current for the operation's window."""
    assert row.id is not None
    target = row.target
    if original is not None and target.get("kind") == "correction":
        target = original.target
    effective = row.scheduled_for or row.created_at
    onset, expires = effective, effective + timedelta(hours=alert_hours)
    if operation is not None and notice_kind in _WINDOW_NOTICES:
        onset, expires = operation.start_at, operation.end_at
    withdrawn = row.state == "cancelled" or (
        operation is not None and operation.status == "cancelled"
    )
    changes = [row.created_at, row.cancelled_at, operation.updated_at if operation else None]
    return PublicAlert(
        id=row.id,
        kind=row.kind,
        body_fr=row.body_fr,
        body_en=row.body_en,
        urgent=row.urgent,
        exercise=row.exercise or bool(original is not None and original.exercise),
        zones=_target_zones(stored, target),
        target=target,
        created_at=row.created_at,
        effective=effective,
        onset=onset,
        expires=expires,
        cancelled_at=row.cancelled_at,
        withdrawn=withdrawn,
        correction_of=row.correction_of,
        operation_id=operation.id if operation is not None else None,
        changed_at=max(moment for moment in changes if moment is not None),
    )


def _public_operation(stored: StoredLayer, op: Operation) -> PublicOperation:
    assert op.id is not None
    zones = _refs(stored, op.zone_ids)
    if not zones and op.lon is not None and op.lat is not None and op.radius_m:
        # A radar site without zones concerns those within its radius.
        near = stored.layer.zones_within(op.lon, op.lat, op.radius_m)
        zones = _refs(stored, [stored.zone_id(zone.index) for zone in near])
    return PublicOperation(
        op.id, op.kind, zones, op.location, op.start_at, op.end_at, op.updated_at
    )


def _target_zones(stored: StoredLayer, target: dict[str, Any]) -> tuple[ZoneRef, ...]:
    if target.get("kind") == "all":
        return _zone_refs(stored)
    return _refs(stored, target.get("zone_ids", ()))


def _refs(stored: StoredLayer, zone_ids: Iterable[int]) -> tuple[ZoneRef, ...]:
    """Zones of the current layer among these ids, in layer order (removed zones dropped)."""
    wanted = set(zone_ids)
    return tuple(zone for zone in _zone_refs(stored) if zone.id in wanted)


@lru_cache(maxsize=8)
def _zone_refs(stored: StoredLayer) -> tuple[ZoneRef, ...]:
    """Every zone of a layer, built once per layer version."""
    return tuple(
        ZoneRef(stored.zone_id(zone.index), zone.index, zone.name, zone.slug)
        for zone in stored.layer.zones
    )


_EPOCH = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
