"""Operator use-cases on the zone layer and the address gazetteer: import and list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from alerts.errors import UsageError
from alerts.models import Address, Subscription, Zone
from alerts.wiring import Services
from alerts.zone_catalog import store_addresses, store_layer
from zones import ZoneLayer
from zones.geocode import read_address_points


@dataclass(frozen=True)
class LayerImport:
    """What a zone layer import did."""

    imported: int
    repaired: int
    skipped: int
    crs: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts zones import`."""
        return {
            "imported": self.imported,
            "repaired": self.repaired,
            "skipped": self.skipped,
            "crs": self.crs,
        }


def import_zones(
    services: Services,
    source: str,
    *,
    name_field: str | None = None,
    crs: str | None = None,
    replace: bool = False,
) -> LayerImport:
    """Read a layer file or URL and store it, in one transaction."""
    settings = services.settings.zones
    layer = ZoneLayer.from_file(
        source, name_field=name_field, crs=crs, snap_meters=settings.snap_meters
    )
    with services.session() as session:
        has_layer = session.execute(select(func.count()).select_from(Zone)).scalar_one() > 0
        if has_layer and not replace:
            raise UsageError("a zone layer is already imported; use --replace to swap it")
        store_layer(session, layer, str(source))
    services.zones.invalidate()
    report = layer.report
    return LayerImport(
        report.imported, report.repaired, report.skipped, report.crs, tuple(report.warnings)
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
                    Subscription.zone_id, func.count(func.distinct(Subscription.subscriber_id))
                ).group_by(Subscription.zone_id)
            )
        }
        rows = session.execute(
            select(Zone.id, Zone.name, Zone.slug, Zone.area_km2).order_by(Zone.position, Zone.id)
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
