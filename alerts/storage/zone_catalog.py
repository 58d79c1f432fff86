"""The zone layer and the address gazetteer as stored in the database, cached per version."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import String, cast, delete, insert, literal, select, update
from sqlalchemy.engine import Connection, Engine

from alerts.config import ZonesSettings
from alerts.errors import ConfigError, NotFound
from alerts.storage.read_tables import ADDRESS, META, ZONE, read_connection
from zones.errors import UnknownZone

# The geometry libraries load with the layer, and the table models only to write it: a
# command that lists zones or locates one address needs neither.
if TYPE_CHECKING:
    from sqlmodel import Session

    from zones import Gazetteer, ZoneLayer
    from zones.geocode import AddressPoint

ZONES_VERSION = "zones_version"
ADDRESSES_VERSION = "addresses_version"
# How long a process trusts its cached layer before asking the database for its version;
# another process's re-import becomes visible within this delay.
_RECHECK_SECONDS = 2.0


class NoZoneLayer(NotFound):
    """No zone layer has been imported yet."""

    def __init__(self) -> None:
        super().__init__("no zone layer imported yet: run `alerts zones import FILE`")


@dataclass(frozen=True)
class StoredLayer:
    """A layer as loaded from the database, with the database id of each zone."""

    layer: ZoneLayer
    zone_ids: tuple[int, ...]
    version: str

    def zone_id(self, index: int) -> int:
        """The database id of the zone at this layer index."""
        return self.zone_ids[index]

    def index_of(self, zone_id: int) -> int:
        """The layer index of the zone with this database id."""
        return self.zone_ids.index(zone_id)


class ZoneCatalog:
    """Loads the stored layer and gazetteer once and reloads them when a new import lands."""

    def __init__(self, engine: Engine, settings: ZonesSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._lock = threading.Lock()
        self._layer: StoredLayer | None = None
        self._gazetteer: tuple[str, Gazetteer] | None = None
        self._versions: dict[str, str] | None = None
        self._checked_at = 0.0

    def stored(self) -> StoredLayer:
        """The current layer with its zone ids; NoZoneLayer when none was imported."""
        with self._lock:
            version = self._current_versions()[ZONES_VERSION]
            if self._layer is None or self._layer.version != version:
                with read_connection(self._engine) as connection:
                    self._layer = self._load_layer(connection, version)
            return self._layer

    def layer(self) -> ZoneLayer:
        """The current zone layer."""
        return self.stored().layer

    def gazetteer(self) -> Gazetteer:
        """The address gazetteer (empty when no address file was imported)."""
        from zones.geocode import AddressPoint, Gazetteer

        with self._lock:
            version = self._current_versions()[ADDRESSES_VERSION]
            if self._gazetteer is None or self._gazetteer[0] != version:
                with read_connection(self._engine) as connection:
                    rows = connection.execute(select(*ADDRESS.c)).all()
                points = [AddressPoint(r[0], r[1], r[2], r[3], r[4]) for r in rows]
                self._gazetteer = (version, Gazetteer(points))
            return self._gazetteer[1]

    def invalidate(self) -> None:
        """Forget the cached layer and gazetteer (after an import in this process)."""
        with self._lock:
            self._layer = None
            self._gazetteer = None
            self._versions = None

    def _current_versions(self) -> dict[str, str]:
        # Asking the database at most every few seconds keeps lookups off the database.
        if self._versions is None or time.monotonic() - self._checked_at > _RECHECK_SECONDS:
            with read_connection(self._engine) as connection:
                rows = connection.execute(
                    select(META.c.key, META.c.value).where(
                        META.c.key.in_([ZONES_VERSION, ADDRESSES_VERSION])
                    )
                ).all()
            self._versions = {ZONES_VERSION: "0", ADDRESSES_VERSION: "0", **dict(rows)}
            self._checked_at = time.monotonic()
        return self._versions

    def _load_layer(self, connection: Connection, version: str) -> StoredLayer:
        import shapely

        from zones.layer import ZoneLayer

        rows = connection.execute(
            select(ZONE.c.id, ZONE.c.name, ZONE.c.geometry_wkb).order_by(ZONE.c.position, ZONE.c.id)
        ).all()
        if not rows:
            raise NoZoneLayer()
        named = [(name, shapely.from_wkb(wkb)) for _, name, wkb in rows]
        try:
            layer = ZoneLayer.from_geometries(
                named, snap_meters=self._settings.snap_meters, aliases=self._settings.aliases
            )
        except UnknownZone as exc:  # only an alias can name a zone the layer lacks
            raise ConfigError(f"config: zones.aliases: {exc}") from None
        return StoredLayer(layer, tuple(row[0] for row in rows), version)


def store_layer(session: Session, layer: ZoneLayer, source: str) -> LayerSwap:
    """Write a freshly read layer over the stored one, in the caller's transaction.

    A zone keeps its database id when the new layer continues it (by name and position: see
    `pair_zones`), so subscriptions follow their neighbourhood across a re-import, and the
    same file imported again changes no id, even when its names repeat.
    """
    import shapely
    from sqlmodel import col

    from alerts.storage.models import ZoneLayerInfo, ZoneRecord, utcnow
    from zones.layer import pair_zones

    rows = session.execute(
        select(col(ZoneRecord.id), col(ZoneRecord.name), col(ZoneRecord.geometry_wkb)).order_by(
            col(ZoneRecord.position), col(ZoneRecord.id)
        )
    ).all()
    pairing = pair_zones([(name, shapely.from_wkb(wkb)) for _, name, wkb in rows], layer)
    # Park the old slugs first: a renamed zone may take a slug another one held.
    parked = literal("old-") + cast(ZoneRecord.id, String) + literal("-") + ZoneRecord.slug
    session.execute(update(ZoneRecord).values(slug=parked))
    new_ids: list[int] = []
    for zone in layer.zones:
        values = {
            "name": zone.name,
            "slug": zone.slug,
            "geometry_wkb": shapely.to_wkb(zone.geometry),
            "area_km2": zone.area_km2,
            "position": zone.index,
        }
        old = pairing.previous[zone.index]
        if old is None:
            zone_id = session.execute(
                insert(ZoneRecord).values(**values).returning(col(ZoneRecord.id))
            ).scalar_one()
        else:
            zone_id = rows[old][0]
            session.execute(
                update(ZoneRecord).where(col(ZoneRecord.id) == zone_id).values(**values)
            )
        new_ids.append(zone_id)
    removed = [rows[old][0] for old in pairing.removed]
    if removed:
        session.execute(delete(ZoneRecord).where(col(ZoneRecord.id).in_(removed)))
    report = layer.report
    info = session.get(ZoneLayerInfo, 1)
    if info is None:
        info = ZoneLayerInfo(id=1, source=source, crs=report.crs, version=0)
    info.source, info.crs = source, report.crs
    info.imported, info.repaired, info.skipped = report.imported, report.repaired, report.skipped
    info.version += 1
    info.imported_at = utcnow()
    session.add(info)
    bump_version(session, ZONES_VERSION)
    return LayerSwap(
        tuple(new_ids),
        tuple(removed),
        added=tuple(layer.zones[i].name for i in pairing.added),
        removed_names=tuple(rows[old][1] for old in pairing.removed),
        renamed=tuple(
            (rows[old][1], layer.zones[new].name)
            for new in pairing.renamed
            if (old := pairing.previous[new]) is not None
        ),
        reshaped=len(pairing.reshaped),
    )


@dataclass(frozen=True)
class LayerSwap:
    """What storing a layer changed: the new zones' ids by layer index, the removed ids, and
    the zones added, removed (by name), renamed (old, new) and reshaped (same name)."""

    zone_ids: tuple[int, ...]
    removed_ids: tuple[int, ...]
    added: tuple[str, ...] = ()
    removed_names: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    reshaped: int = 0


def bump_version(session: Session, key: str) -> None:
    """Mark a dataset as changed, so every process reloads it."""
    from alerts.storage.models import Meta

    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value="1"))
    else:
        row.value = str(int(row.value or "0") + 1)
        session.add(row)


def store_addresses(session: Session, points: list[AddressPoint], *, replace: bool) -> int:
    """Load address points into the gazetteer table in bulk; returns how many were stored."""
    from alerts.storage.models import Address
    from zones.geocode import normalize_street

    if replace:
        session.execute(delete(Address))
    rows = [
        {
            "number": p.number,
            "suffix": p.suffix,
            "street": p.street,
            "street_key": normalize_street(p.street),
            "lon": p.lon,
            "lat": p.lat,
        }
        for p in points
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Address), rows[start : start + 5000])
    bump_version(session, ADDRESSES_VERSION)
    return len(rows)
