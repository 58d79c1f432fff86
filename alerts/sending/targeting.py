"""Who an alert reaches: zones, a drawn area, a circle around a point, or everyone.

Recipients are active subscribers with the alert's topic on, never a suppressed number, each
once per alert, in their language. Zone and "all" targets are one INSERT ... SELECT inside
the database; area and circle targets stream candidate subscriptions in keyset-ordered
chunks and test their points with shapely, so no target is ever held in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlmodel import Session, col

from alerts.core.composition import TOPIC_OF_KIND
from alerts.errors import InvalidInput, InvalidOption, UsageError
from alerts.gateways.documents import fetch_json
from alerts.places.places import zone_by_name
from alerts.storage.db import rowcount
from alerts.storage.models import (
    ACTIVE,
    Delivery,
    Subscriber,
    Subscription,
    Suppression,
    UTCDateTime,
    table_of,
)
from alerts.wiring import Services
from zones.coordinates import parse_coordinates

_CHUNK = 5000
DELIVERY_TABLE = table_of(Delivery)
_MAX_RADIUS_M = 50_000


class BadArea(InvalidInput):
    """An --area file that is not a usable lon/lat polygon."""


@dataclass(frozen=True)
class TargetSpec:
    """Where an operator aims an alert, as typed: exactly one of the four forms."""

    zones: tuple[str, ...] = ()
    area: str | None = None  # a GeoJSON file or URL
    near: str | None = None
    radius_m: float | None = None
    everyone: bool = False
    # The drawn area itself (a GeoJSON geometry), as a recurring schedule keeps it: the file
    # it came from may be gone by the next occurrence. `area` then only names it.
    area_geometry: dict[str, Any] | None = None


@dataclass(frozen=True)
class Target:
    """A resolved target: the zones it names or touches, and the shape for stored points."""

    kind: str  # zones | area | near | all
    zone_ids: tuple[int, ...] = ()
    zone_names: tuple[str, ...] = ()
    geometry: BaseGeometry | None = field(default=None, compare=False)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What the alert row stores, enough to find the recipients again at release time."""
        stored: dict[str, Any] = {"kind": self.kind, **self.detail}
        stored["zone_ids"], stored["zones"] = list(self.zone_ids), list(self.zone_names)
        if self.geometry is not None:
            stored["geometry"] = mapping(self.geometry)
        return stored

    def describe(self) -> str:
        """One line for operators."""
        if self.kind == "zones":
            return ", ".join(self.zone_names)
        if self.kind == "near":
            d = self.detail
            return f"within {d['radius_m']:g} m of {d['lat']:.5f},{d['lon']:.5f}"
        if self.kind == "area":
            return f"area {self.detail.get('file', '')}".strip()
        return "every active subscriber"


def resolve_target(services: Services, spec: TargetSpec) -> Target:
    """Check and resolve a target; unknown zones, bad files and bad circles are refused."""
    drawn = spec.area is not None or spec.area_geometry is not None
    forms = [bool(spec.zones), drawn, spec.near is not None, spec.everyone]
    if sum(forms) != 1:
        raise UsageError("give exactly one target: --zone NAME..., --area FILE, --near, or --all")
    if spec.radius_m is not None and spec.near is None:
        raise UsageError("--radius goes with --near LAT,LON")
    if spec.zones:
        places = [zone_by_name(services, name) for name in spec.zones]
        unique = {place.zone_id: place.zone_name for place in places}
        return Target("zones", tuple(unique), tuple(unique.values()))
    if spec.everyone:
        return Target("all")
    if drawn:
        name = Path(spec.area).name if spec.area else "area"
        if spec.area_geometry is not None:
            area = area_of(spec.area_geometry, name)
        else:
            assert spec.area is not None
            area = read_area(spec.area)
        return area_target(services, area, {"file": name})
    assert spec.near is not None
    point = parse_coordinates(spec.near)
    if point is None:
        raise InvalidOption(f"--near {spec.near!r} is not LAT,LON (example: 46.8123,-71.2145)")
    if spec.radius_m is None or not 0 < spec.radius_m <= _MAX_RADIUS_M:
        raise UsageError(f"--near needs --radius METRES (more than 0, at most {_MAX_RADIUS_M})")
    lat, lon = point
    layer = services.zones.stored()
    circle = layer.layer.circle(lon, lat, spec.radius_m)
    zones = layer.layer.zones_within(lon, lat, spec.radius_m)
    detail = {"lat": lat, "lon": lon, "radius_m": spec.radius_m}
    return Target("near", tuple(layer.zone_id(z.index) for z in zones), (), circle, detail)


def area_target(services: Services, area: BaseGeometry, detail: dict[str, Any]) -> Target:
    """A target for a lon/lat polygon: its points, and the zones it overlaps."""
    layer = services.zones.stored()
    zones = layer.layer.zones_intersecting(area)
    return Target("area", tuple(layer.zone_id(z.index) for z in zones), (), area, detail)


def target_from_json(services: Services, stored: dict[str, Any]) -> Target:
    """Rebuild a stored target; zones overlapped by a shape are looked up in today's layer."""
    kind = stored["kind"]
    detail = {k: v for k, v in stored.items() if k not in ("kind", "zone_ids", "zones", "geometry")}
    if kind in ("zones", "all"):
        return Target(kind, tuple(stored.get("zone_ids", ())), tuple(stored.get("zones", ())))
    target = area_target(services, shape(stored["geometry"]), detail)
    return Target(kind, target.zone_ids, (), target.geometry, detail)


def read_area(path: str) -> BaseGeometry:
    """The (multi)polygon of a GeoJSON file: a geometry, a Feature or a FeatureCollection."""
    try:
        document, source = fetch_json(path)
    except Exception as exc:  # the zones package's one-line LayerError, or an OS error
        raise BadArea(f"--area: {exc}") from None
    return area_of(document, source)


def area_of(document: Any, source: str) -> BaseGeometry:
    """The (multi)polygon of a GeoJSON document, checked as an --area file is."""
    geometries = [shape(g) for g in _geometries(document, source)]
    polygons = [g for g in geometries if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise BadArea(f"{source}: no Polygon or MultiPolygon to target")
    area = shapely.union_all(polygons)
    if not area.is_valid:
        reason = shapely.is_valid_reason(area)
        raise BadArea(f"{source}: the polygon is not valid ({reason}); redraw it")
    if area.is_empty or area.area == 0:
        raise BadArea(f"{source}: the polygon has no area")
    minx, miny, maxx, maxy = area.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise BadArea(f"{source}: coordinates are not longitude/latitude (use EPSG:4326)")
    shapely.prepare(area)
    return area


def _geometries(document: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise BadArea(f"{source}: not a GeoJSON object")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features") or []
        return [f["geometry"] for f in features if isinstance(f, dict) and f.get("geometry")]
    if kind == "Feature":
        return [document["geometry"]] if document.get("geometry") else []
    if kind in ("Polygon", "MultiPolygon"):
        return [document]
    raise BadArea(f"{source}: expected a GeoJSON Polygon, Feature or FeatureCollection")


# -- recipients ------------------------------------------------------------------------------


def _eligible(kind: str) -> list[ColumnElement[bool]]:
    """Active, not suppressed, with the alert's topic on."""
    clauses: list[ColumnElement[bool]] = [
        col(Subscriber.status) == ACTIVE,
        ~exists().where(col(Suppression.phone) == Subscriber.phone),
    ]
    topic = TOPIC_OF_KIND[kind]
    if topic == "snow":
        clauses.append(col(Subscriber.topic_snow) == true())
    elif topic == "radar":
        clauses.append(col(Subscriber.topic_radar) == true())
    return clauses


def _lang(default_lang: str) -> ColumnElement[str]:
    lang = col(Subscriber.lang)
    return case((lang.in_(("fr", "en")), lang), else_=literal(default_lang))


def _zone_recipients(
    target: Target, kind: str, default_lang: str
) -> Select[int | None, int | None, str]:
    """(subscriber_id, zone_id, lang) of a zones or all target, one row per subscriber."""
    if target.kind == "all":
        first_zone = (
            select(func.min(col(Subscription.zone_id)))
            .where(
                col(Subscription.subscriber_id) == Subscriber.id,
                col(Subscription.status) == ACTIVE,
            )
            .scalar_subquery()
        )
        return select(
            col(Subscriber.id).label("subscriber_id"),
            first_zone.label("zone_id"),
            _lang(default_lang).label("lang"),
        ).where(*_eligible(kind))
    return (
        select(
            col(Subscriber.id).label("subscriber_id"),
            func.min(col(Subscription.zone_id)).label("zone_id"),
            _lang(default_lang).label("lang"),
        )
        .join(Subscription, col(Subscription.subscriber_id) == Subscriber.id)
        .where(
            *_eligible(kind),
            col(Subscription.status) == ACTIVE,
            col(Subscription.zone_id).in_(target.zone_ids),
        )
        .group_by(col(Subscriber.id))
    )


def _shape_recipients(
    session: Session, target: Target, kind: str, default_lang: str
) -> Iterator[list[tuple[int, int | None, str]]]:
    """Chunks of (subscriber_id, zone_id, lang) for an area or circle, each subscriber once."""
    assert target.geometry is not None
    minx, miny, maxx, maxy = target.geometry.bounds
    with_point = and_(
        col(Subscription.lon).is_not(None),
        col(Subscription.lon).between(minx, maxx),
        col(Subscription.lat).between(miny, maxy),
    )
    without_point = (
        and_(col(Subscription.lon).is_(None), col(Subscription.zone_id).in_(target.zone_ids))
        if target.zone_ids
        else false()
    )
    query = (
        select(
            col(Subscription.subscriber_id),
            col(Subscription.id),
            col(Subscription.zone_id),
            _lang(default_lang),
            col(Subscription.lon),
            col(Subscription.lat),
        )
        .join(Subscriber, col(Subscriber.id) == Subscription.subscriber_id)
        .where(*_eligible(kind), col(Subscription.status) == ACTIVE, or_(with_point, without_point))
        .order_by(col(Subscription.subscriber_id), col(Subscription.id))
        .limit(_CHUNK)
    )
    last_subscriber, last_id, emitted = -1, -1, -1
    while True:
        after = or_(
            col(Subscription.subscriber_id) > last_subscriber,
            and_(
                col(Subscription.subscriber_id) == last_subscriber,
                col(Subscription.id) > last_id,
            ),
        )
        rows = session.execute(query.where(after)).all()
        if not rows:
            return
        lon = np.array([np.nan if r[4] is None else r[4] for r in rows], dtype=float)
        lat = np.array([np.nan if r[5] is None else r[5] for r in rows], dtype=float)
        inside = np.isnan(lon) | shapely.contains_xy(target.geometry, lon, lat)
        chunk: list[tuple[int, int | None, str]] = []
        for row, hit in zip(rows, inside.tolist(), strict=True):
            if hit and row[0] != emitted:
                chunk.append((row[0], row[2], row[3]))
                emitted = row[0]
        last_subscriber, last_id = rows[-1][0], rows[-1][1]
        if chunk:
            yield chunk


def count_recipients(
    session: Session, target: Target, kind: str, default_lang: str
) -> dict[tuple[int | None, str], int]:
    """How many recipients a target has, by (zone id, language)."""
    if target.kind in ("zones", "all"):
        found = _zone_recipients(target, kind, default_lang).subquery()
        rows = session.execute(
            select(found.c.zone_id, found.c.lang, func.count()).group_by(
                found.c.zone_id, found.c.lang
            )
        ).all()
        return {(zone_id, lang): count for zone_id, lang, count in rows}
    counts: dict[tuple[int | None, str], int] = {}
    for chunk in _shape_recipients(session, target, kind, default_lang):
        for _, zone_id, lang in chunk:
            counts[(zone_id, lang)] = counts.get((zone_id, lang), 0) + 1
    return counts


def insert_deliveries(
    session: Session,
    target: Target,
    *,
    kind: str,
    alert_id: int,
    priority: int,
    now: datetime,
    default_lang: str,
) -> int:
    """Write one queued delivery per recipient of the target; returns how many."""
    if target.kind in ("zones", "all"):
        found = _zone_recipients(target, kind, default_lang).subquery()
        when = literal(now, UTCDateTime())
        rows = select(
            literal(alert_id),
            found.c.subscriber_id,
            found.c.zone_id,
            found.c.lang,
            literal("queued"),
            literal(priority),
            literal(0),
            when,
            when,
            false(),
            literal(0),
        )
        columns = [
            "alert_id", "subscriber_id", "zone_id", "lang", "state", "priority", "attempts",
            "next_attempt_at", "created_at", "uncertain", "redeliveries",
        ]  # fmt: skip
        result = session.execute(
            insert(DELIVERY_TABLE).from_select(columns, rows),
            execution_options={"preserve_rowcount": True},  # else -1 on PostgreSQL
        )
        return int(rowcount(result))
    total = 0
    for chunk in _shape_recipients(session, target, kind, default_lang):
        values = [
            {
                "alert_id": alert_id,
                "subscriber_id": subscriber_id,
                "zone_id": zone_id,
                "lang": lang,
                "state": "queued",
                "priority": priority,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "uncertain": False,
                "redeliveries": 0,
            }
            for subscriber_id, zone_id, lang in chunk
        ]
        session.execute(insert(DELIVERY_TABLE), values)
        total += len(values)
    return total
