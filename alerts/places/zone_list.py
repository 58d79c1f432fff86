"""The zones as listed for operators: a read that loads no table model and no geometry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from alerts.storage.read_tables import SUBSCRIPTION, ZONE, read_connection

if TYPE_CHECKING:
    from alerts.wiring import Services


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
    """Every zone, in the layer's order, with its area and its number of subscribers."""
    subscribers = func.count(func.distinct(SUBSCRIPTION.c.subscriber_id))
    with read_connection(services.engine) as connection:
        counts: dict[int, int] = dict(
            connection.execute(
                select(SUBSCRIPTION.c.zone_id, subscribers).group_by(SUBSCRIPTION.c.zone_id)
            ).all()
        )
        rows = connection.execute(
            select(ZONE.c.id, ZONE.c.name, ZONE.c.slug, ZONE.c.area_km2).order_by(
                ZONE.c.position, ZONE.c.id
            )
        ).all()
    return [ZoneSummary(name, slug, area, counts.get(zid, 0)) for zid, name, slug, area in rows]
