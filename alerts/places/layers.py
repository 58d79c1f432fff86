"""Operator use-cases on the zone layer and the address gazetteer: import and list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from alerts.errors import UsageError
from alerts.gateways.documents import fetch_json
from alerts.storage.models import Address, Subscription, ZoneRecord
from alerts.storage.zone_catalog import LayerSwap, store_addresses, store_layer
from alerts.wiring import Services
from zones import ZoneLayer
from zones.geocode import read_address_points


@dataclass(frozen=True)
class Rematch:
    """What a re-import did to the subscriptions (none is ever dropped silently)."""

    unchanged: int = 0
    moved: int = 0
    merged: int = 0
    outside: int = 0
    orphaned: int = 0
    subscribers_moved: int = 0
    subscribers_outside: int = 0

    def as_dict(self) -> dict[str, int]:
        """The JSON shape of the re-import report."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class LayerImport:
    """What a zone layer import did."""

    imported: int
    repaired: int
    skipped: int
    crs: str
    warnings: tuple[str, ...] = ()
    rematch: Rematch | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts zones import`."""
        shape: dict[str, object] = {
            "imported": self.imported,
            "repaired": self.repaired,
            "skipped": self.skipped,
            "crs": self.crs,
            "warnings": list(self.warnings),  # features dropped or repaired, by name
        }
        if self.rematch is not None:
            shape["subscriptions"] = self.rematch.as_dict()
        return shape


def import_zones(
    services: Services,
    source: str,
    *,
    name_field: str | None = None,
    crs: str | None = None,
    replace: bool = False,
) -> LayerImport:
    """Read a layer file or URL and store it in one transaction, re-matching stored points."""
    settings = services.settings.zones
    document, named = fetch_json(source)
    layer = ZoneLayer.from_geojson(
        document, name_field=name_field, crs=crs, source=named, snap_meters=settings.snap_meters
    )
    with services.session() as session:
        has_layer = session.execute(select(func.count()).select_from(ZoneRecord)).scalar_one() > 0
        if has_layer and not replace:
            raise UsageError("a zone layer is already imported; use --replace to swap it")
        before = session.execute(
            select(
                col(Subscription.id),
                col(Subscription.subscriber_id),
                col(Subscription.zone_id),
                col(Subscription.lon),
                col(Subscription.lat),
            )
        ).all()
        swap = store_layer(session, layer, str(source))
        rematch = _rematch(session, layer, swap, before) if has_layer else None
    services.zones.invalidate()
    report = layer.report
    return LayerImport(
        report.imported,
        report.repaired,
        report.skipped,
        report.crs,
        tuple(report.warnings),
        rematch,
    )


def _rematch(session: Session, layer: ZoneLayer, swap: LayerSwap, rows: Sequence[Any]) -> Rematch:
    """Move subscriptions with a stored point to the zone that now contains it.

    Subscriptions left without a zone by an earlier import are counted again (as outside or
    orphaned) until a layer gives them one: each report shows every one still to review.
    """
    removed = set(swap.removed_ids)
    pointed = [r for r in rows if r.lon is not None and r.lat is not None]
    orphaned = sum(1 for r in rows if r.lon is None and (r.zone_id is None or r.zone_id in removed))
    found = layer.locate_many(
        lon=np.array([r.lon for r in pointed], dtype=float),
        lat=np.array([r.lat for r in pointed], dtype=float),
    )
    targets: list[int | None] = []
    for row, index in zip(pointed, found.tolist(), strict=True):
        if index < 0:  # just outside the new edge: snap as a single lookup would
            zone, _ = layer.locate(row.lon, row.lat)
            index = zone.index if zone is not None else -1
        targets.append(swap.zone_ids[index] if index >= 0 else None)
    moving = {row.id for row, target in zip(pointed, targets, strict=True) if target != row.zone_id}
    held = {
        (r.subscriber_id, r.zone_id)
        for r in rows
        if r.id not in moving and r.zone_id not in removed
    }
    counts = {"unchanged": 0, "moved": 0, "merged": 0, "outside": 0}
    movers: set[int] = set()
    strays: set[int] = set()
    for row, target in zip(pointed, targets, strict=True):
        if target is None:
            counts["outside"] += 1
            strays.add(row.subscriber_id)
            if row.zone_id is not None:
                session.execute(
                    update(Subscription).where(col(Subscription.id) == row.id).values(zone_id=None)
                )
        elif target == row.zone_id:
            counts["unchanged"] += 1
        elif (row.subscriber_id, target) in held:
            counts["merged"] += 1  # the subscriber already has that zone: one row is enough
            session.execute(delete(Subscription).where(col(Subscription.id) == row.id))
        else:
            counts["moved"] += 1
            movers.add(row.subscriber_id)
            held.add((row.subscriber_id, target))
            session.execute(
                update(Subscription).where(col(Subscription.id) == row.id).values(zone_id=target)
            )
    return Rematch(
        **counts,
        orphaned=orphaned,
        subscribers_moved=len(movers),
        subscribers_outside=len(strays),
    )


@dataclass(frozen=True)
class ZoneSummary:
    """One zone as listed for operators."""

    name: str
    slug: str
    area_km2: float
    subscribers: int

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of one `alerts zones list` entry."""
        return {
            "name": self.name,
            "slug": self.slug,
            "area_km2": round(self.area_km2, 3),
            "subscribers": self.subscribers,
        }


def list_zones(services: Services) -> list[ZoneSummary]:
    """Every zone with its area and its number of subscribers."""
    with services.session(read_only=True) as session:
        counts = {
            zone_id: count
            for zone_id, count in session.execute(
                select(
                    col(Subscription.zone_id),
                    func.count(func.distinct(col(Subscription.subscriber_id))),
                ).group_by(col(Subscription.zone_id))
            )
        }
        rows = session.execute(
            select(
                col(ZoneRecord.id),
                col(ZoneRecord.name),
                col(ZoneRecord.slug),
                col(ZoneRecord.area_km2),
            ).order_by(col(ZoneRecord.position), col(ZoneRecord.id))
        ).all()
    return [ZoneSummary(name, slug, area, counts.get(zid, 0)) for zid, name, slug, area in rows]


def import_addresses(
    services: Services,
    path: str | Path,
    *,
    number_field: str | None = None,
    street_field: str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
    replace: bool = True,
) -> int:
    """Load an address-point file into the gazetteer in one transaction; returns the count."""
    points = read_address_points(
        path,
        number_field=number_field,
        street_field=street_field,
        lon_field=lon_field,
        lat_field=lat_field,
    )
    with services.session() as session:
        count = store_addresses(session, points, replace=replace)
    services.zones.invalidate()
    return count


def address_count(services: Services) -> int:
    """How many address points the gazetteer holds."""
    with services.session(read_only=True) as session:
        return session.execute(select(func.count()).select_from(Address)).scalar_one()
