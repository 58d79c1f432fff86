"""Operator use-cases on the zone layer and the address gazetteer: import and list."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from alerts.core.progress import Progress, ignore_progress
from alerts.errors import UsageError
from alerts.gateways.documents import fetch_json, require_import_file
from alerts.storage.audit import record_action
from alerts.storage.models import ACTIVE, Address, Subscription, ZoneRecord
from alerts.storage.zone_catalog import LayerSwap, store_addresses, store_layer
from alerts.wiring import Services
from zones import ZoneLayer
from zones.geocode import read_address_points
from zones.names import normalize_name


@dataclass(frozen=True)
class Rematch:
    """What a re-import did to the subscriptions (none is ever dropped silently).

    A subscription with a point follows the point (`moved`, or `outside` every zone); one
    without follows its zone, or, its zone gone, the zone name it was made with (`relinked`,
    or `orphaned`). `unlinked` counts those this import leaves without a zone that had one.
    """

    unchanged: int = 0
    moved: int = 0
    merged: int = 0
    outside: int = 0
    orphaned: int = 0
    subscribers_moved: int = 0
    subscribers_outside: int = 0
    relinked: int = 0
    unlinked: int = 0
    subscribers_unlinked: int = 0

    @property
    def without_zone(self) -> int:
        """Subscriptions without a zone after the import (to review, or for a later layer)."""
        return self.outside + self.orphaned

    def as_dict(self) -> dict[str, int]:
        """The JSON shape of the re-import report."""
        return {**self.__dict__, "without_zone": self.without_zone}


@dataclass(frozen=True)
class ZoneChanges:
    """What a re-import did to the zones: new names, names gone, renamed, new outlines."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    reshaped: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        """The JSON shape: counts."""
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "renamed": len(self.renamed),
            "reshaped": self.reshaped,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class LayerImport:
    """What a zone layer import did (or, in a dry run, would do)."""

    imported: int
    repaired: int
    skipped: int
    crs: str
    warnings: tuple[str, ...] = ()
    rematch: Rematch | None = None
    zones: ZoneChanges | None = None
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts zones import`."""
        shape: dict[str, object] = {
            "imported": self.imported,
            "repaired": self.repaired,
            "skipped": self.skipped,
            "crs": self.crs,
            "warnings": list(self.warnings),  # features dropped or repaired, by name
        }
        if self.zones is not None:
            shape["zones"] = self.zones.as_dict()
        if self.rematch is not None:
            shape["subscriptions"] = self.rematch.as_dict()
        if self.dry_run:
            shape["dry_run"] = True
        return shape


class _Preview(Exception):
    """Carries a dry run's result out of its transaction, which it rolls back."""

    def __init__(self, result: LayerImport) -> None:
        super().__init__("dry run")
        self.result = result


def read_zone_layer(
    services: Services,
    source: str,
    *,
    name_field: str | None = None,
    crs: str | None = None,
    progress: Progress | None = None,
) -> ZoneLayer:
    """Read a layer file or URL (at most `zones.max_layer_bytes`) into a ZoneLayer."""
    tell = progress or ignore_progress
    settings = services.settings.zones
    tell("reading the layer", 0, None)
    document, named = fetch_json(source, max_bytes=settings.max_layer_bytes)
    tell("checking the zones", 0, None)
    return ZoneLayer.from_geojson(
        document, name_field=name_field, crs=crs, source=named, snap_meters=settings.snap_meters
    )


def import_zones(
    services: Services,
    source: str,
    *,
    name_field: str | None = None,
    crs: str | None = None,
    replace: bool = False,
    dry_run: bool = False,
    max_unlinked: int | None = None,
    progress: Progress | None = None,
) -> LayerImport:
    """Read a layer file or URL and store it in one transaction, re-matching subscriptions."""
    layer = read_zone_layer(services, source, name_field=name_field, crs=crs, progress=progress)
    return store_zone_layer(
        services,
        layer,
        replace=replace,
        dry_run=dry_run,
        max_unlinked=max_unlinked,
        progress=progress,
    )


def store_zone_layer(
    services: Services,
    layer: ZoneLayer,
    *,
    replace: bool = False,
    dry_run: bool = False,
    max_unlinked: int | None = None,
    progress: Progress | None = None,
) -> LayerImport:
    """Store a layer in one transaction, re-matching subscriptions; a dry run rolls it back.

    With `max_unlinked`, an import that would leave more subscriptions without a zone than
    that (say, more than the operator agreed to after a preview) changes nothing.
    """
    tell = progress or ignore_progress
    _measure(layer, tell)
    try:
        with services.session() as session:
            result = _store(session, layer, replace, tell)
            unlinked = result.rematch.unlinked if result.rematch is not None else 0
            if max_unlinked is not None and unlinked > max_unlinked:
                raise UsageError(
                    f"the import would leave {unlinked} subscription(s) without a zone, "
                    f"not {max_unlinked} as agreed; nothing changed"
                )
            if dry_run:
                raise _Preview(dataclasses.replace(result, dry_run=True))
            _record_layer(services, session, layer, result, replace)
    except _Preview as preview:
        return preview.result
    services.zones.invalidate()
    return result


def _record_layer(
    services: Services, session: Session, layer: ZoneLayer, result: LayerImport, replace: bool
) -> None:
    rematch = result.rematch
    record_action(
        session, services.operator, "zones.import", source_name(layer.source),
        now=services.clock(), replace=replace or None, imported=result.imported,
        repaired=result.repaired or None, skipped=result.skipped or None,
        zones=result.zones.as_dict() if result.zones else None,
        without_zone=rematch.without_zone if rematch else None,
    )  # fmt: skip


def source_name(source: str | Path) -> str:
    """A file's name, or a URL without its user, query and fragment (where a token may
    sit), for the trail."""
    text = str(source)
    if not text.startswith(("http://", "https://")):
        return Path(text).name
    parts = urlsplit(text)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path}"


def _measure(layer: ZoneLayer, tell: Progress) -> None:
    """Work out each zone's area (the slow part of storing a layer: a projection per zone)
    before the write transaction, saying how far it is."""
    total = len(layer)
    for done, zone in enumerate(layer.zones, start=1):
        _ = zone.area_km2  # computed once, kept by the zone
        tell("measuring zones", done, total)


def _store(session: Session, layer: ZoneLayer, replace: bool, tell: Progress) -> LayerImport:
    has_layer = session.execute(select(func.count()).select_from(ZoneRecord)).scalar_one() > 0
    if has_layer and not replace:
        raise UsageError("a zone layer is already imported; use --replace to swap it")
    _note_zone_names(session)
    before = session.execute(
        select(
            col(Subscription.id),
            col(Subscription.subscriber_id),
            col(Subscription.zone_id),
            col(Subscription.status),
            col(Subscription.lon),
            col(Subscription.lat),
            col(Subscription.zone_name),
        ).order_by(col(Subscription.id))
    ).all()
    tell("storing zones", 0, None)
    swap = store_layer(session, layer, layer.source)
    tell("re-matching subscriptions", 0, len(before))
    rematch = _rematch(session, layer, swap, before) if has_layer or before else None
    tell("re-matching subscriptions", len(before), len(before))
    _note_zone_names(session)
    report = layer.report
    changes = None
    if has_layer:
        kept = len(layer) - len(swap.added) - len(swap.renamed) - swap.reshaped
        changes = ZoneChanges(swap.added, swap.removed_names, swap.renamed, swap.reshaped, kept)
    return LayerImport(
        report.imported,
        report.repaired,
        report.skipped,
        report.crs,
        tuple(report.warnings),
        rematch,
        changes,
    )


def _note_zone_names(session: Session) -> None:
    """Write on every subscription holding a zone that zone's name (however it was made:
    an operator, a text message, a CSV import), for the day a layer leaves it without one."""
    name = (
        select(col(ZoneRecord.name))
        .where(col(ZoneRecord.id) == col(Subscription.zone_id))
        .scalar_subquery()
    )
    session.execute(
        update(Subscription).where(col(Subscription.zone_id).is_not(None)).values(zone_name=name)
    )


def _rematch(session: Session, layer: ZoneLayer, swap: LayerSwap, rows: Sequence[Any]) -> Rematch:
    """Give each subscription the zone it belongs to in the new layer, or none.

    Subscriptions left without a zone by an earlier import are counted again (as outside or
    orphaned) until a layer gives them one: each report shows every one still to review.
    """
    targets = _targets(layer, swap, rows)
    held = {
        (row.subscriber_id, target): row
        for row, target in zip(rows, targets, strict=True)
        if target is not None and target == row.zone_id
    }
    counts = {"unchanged": len(held), "moved": 0, "relinked": 0, "merged": 0}
    counts.update(outside=0, orphaned=0, unlinked=0)
    movers: set[int] = set()
    strays: set[int] = set()
    unlinked: set[int] = set()
    clear: list[int] = []  # rows leaving their zone (first, so no two rows swap into a clash)
    dropped: list[int] = []
    activated: list[int] = []
    assigned: dict[int, list[int]] = {}
    for row, target in zip(rows, targets, strict=True):
        if target is not None and target == row.zone_id:
            continue
        pointed = row.lon is not None and row.lat is not None
        if row.zone_id is not None:
            clear.append(row.id)
        if target is None:
            counts["outside" if pointed else "orphaned"] += 1
            if pointed:
                strays.add(row.subscriber_id)
            if row.zone_id is not None:
                counts["unlinked"] += 1
                unlinked.add(row.subscriber_id)
            continue
        kept = held.get((row.subscriber_id, target))
        if kept is not None:
            counts["merged"] += 1  # the subscriber already has that zone: one row is enough
            dropped.append(row.id)
            if row.status == ACTIVE and kept.status != ACTIVE:
                activated.append(kept.id)
            continue
        counts["moved" if pointed else "relinked"] += 1
        if pointed:
            movers.add(row.subscriber_id)
        held[(row.subscriber_id, target)] = row
        assigned.setdefault(target, []).append(row.id)
    _update_rows(session, clear, zone_id=None)
    for start in range(0, len(dropped), _CHUNK):
        chunk = dropped[start : start + _CHUNK]
        session.execute(delete(Subscription).where(col(Subscription.id).in_(chunk)))
    _update_rows(session, activated, status=ACTIVE)
    for target, ids in assigned.items():
        _update_rows(session, ids, zone_id=target)
    return Rematch(
        **counts,
        subscribers_moved=len(movers),
        subscribers_outside=len(strays),
        subscribers_unlinked=len(unlinked),
    )


def _targets(layer: ZoneLayer, swap: LayerSwap, rows: Sequence[Any]) -> list[int | None]:
    """The zone id each subscription belongs to in the new layer: its point's zone; else its
    zone, still there; else the one zone of the name it was made with; else None."""
    removed = set(swap.removed_ids)
    pointed = [i for i, r in enumerate(rows) if r.lon is not None and r.lat is not None]
    found = layer.locate_many(
        lon=np.array([rows[i].lon for i in pointed], dtype=float),
        lat=np.array([rows[i].lat for i in pointed], dtype=float),
    )
    targets: list[int | None] = [None] * len(rows)
    for at, index in zip(pointed, found.tolist(), strict=True):
        if index < 0:  # just outside the new edge: snap as a single lookup would
            zone, _ = layer.locate(rows[at].lon, rows[at].lat)
            index = zone.index if zone is not None else -1
        targets[at] = swap.zone_ids[index] if index >= 0 else None
    exact: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for zone in layer.zones:
        exact.setdefault(zone.name, []).append(swap.zone_ids[zone.index])
        loose.setdefault(normalize_name(zone.name), []).append(swap.zone_ids[zone.index])
    for at, row in enumerate(rows):
        if row.lon is not None and row.lat is not None:
            continue
        if row.zone_id is not None and row.zone_id not in removed:
            targets[at] = row.zone_id
        elif row.zone_name:
            # Several zones of that name: which one is a guess, so none (left for review).
            same = exact.get(row.zone_name) or loose.get(normalize_name(row.zone_name)) or []
            targets[at] = same[0] if len(same) == 1 else None
    return targets


_CHUNK = 500


def _update_rows(session: Session, ids: list[int], **values: object) -> None:
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        session.execute(update(Subscription).where(col(Subscription.id).in_(chunk)).values(values))


_ADDRESS_PIECE = 20_000


def import_addresses(
    services: Services,
    path: str | Path,
    *,
    number_field: str | None = None,
    street_field: str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
    replace: bool = True,
    progress: Progress | None = None,
) -> int:
    """Load an address-point file into the gazetteer in one transaction; returns the count."""
    tell = progress or ignore_progress
    # The address reader takes the whole file at once: refuse a device or a huge file first.
    require_import_file(
        Path(path), services.settings.zones.max_layer_bytes, setting="zones.max_layer_bytes"
    )
    tell("reading address points", 0, None)
    points = read_address_points(
        path,
        number_field=number_field,
        street_field=street_field,
        lon_field=lon_field,
        lat_field=lat_field,
    )
    with services.session() as session:
        count = 0
        # In pieces, to say how far it is; the first piece replaces the gazetteer.
        for start in range(0, len(points), _ADDRESS_PIECE):
            piece = points[start : start + _ADDRESS_PIECE]
            count += store_addresses(session, piece, replace=replace and start == 0)
            tell("storing address points", count, len(points))
        if not points:
            store_addresses(session, points, replace=replace)
        record_action(
            session, services.operator, "addresses.import", source_name(path),
            now=services.clock(), addresses=count, replace=replace,
        )  # fmt: skip
    services.zones.invalidate()
    return count


def address_count(services: Services) -> int:
    """How many address points the gazetteer holds."""
    with services.session(read_only=True) as session:
        return session.execute(select(func.count()).select_from(Address)).scalar_one()
