"""Where an alert applies, as shapes for the feeds: zones' union, drawn polygon or circle.

Shapes are simplified in a local metric projection (tolerances in metres, not degrees) and
rounded: open data needs the outline of a neighbourhood, not every surveyed vertex.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry

from alerts.storage.zone_catalog import StoredLayer
from zones.projection import LocalProjection

# A CAP polygon of more points is hard on receivers (many cap the count); 100 is plenty.
CAP_MAX_POINTS = 100
# Six decimals of a degree is about 10 cm: more would only leak false precision.
_DECIMALS = 6
GEOJSON_TOLERANCE_M = 5.0
# CAP areas are for alerting phones in an area, where ten metres are well within GPS error.
_CAP_TOLERANCE_M = 10.0


@dataclass(frozen=True)
class Circle:
    """A point and a radius in metres (a "near" target)."""

    lat: float
    lon: float
    radius_m: float


def target_shape(
    stored: StoredLayer, target: dict[str, Any]
) -> tuple[BaseGeometry | None, Circle | None]:
    """The lon/lat area of a stored target, and its circle when it is one."""
    kind = target.get("kind")
    if kind == "near" and {"lat", "lon", "radius_m"} <= target.keys():
        circle = Circle(float(target["lat"]), float(target["lon"]), float(target["radius_m"]))
        return stored.layer.circle(circle.lon, circle.lat, circle.radius_m), circle
    if kind == "area" and target.get("geometry"):
        return shape(target["geometry"]), None
    if kind == "all":
        return zones_union(stored, tuple(range(len(stored.layer.zones)))), None
    indexes = tuple(
        sorted(
            stored.index_of(zone_id)
            for zone_id in target.get("zone_ids", ())
            if zone_id in stored.zone_ids
        )
    )
    return (zones_union(stored, indexes), None) if indexes else (None, None)


@lru_cache(maxsize=256)
def zones_union(stored: StoredLayer, indexes: tuple[int, ...]) -> BaseGeometry:
    """The union of some zones of a layer (cached: alerts aim at the same zones again)."""
    geometries = [stored.layer.zones[index].geometry for index in indexes]
    return shapely.union_all(geometries)


def simplified(geometry: BaseGeometry, tolerance_m: float = GEOJSON_TOLERANCE_M) -> BaseGeometry:
    """A lon/lat geometry simplified by `tolerance_m` metres and rounded to six decimals."""
    projection = LocalProjection.around(geometry)
    metric = projection.to_metres(geometry).simplify(tolerance_m, preserve_topology=True)
    return _rounded(projection.to_lonlat(metric))


def _rounded(geometry: BaseGeometry) -> BaseGeometry:
    rounded = shapely.transform(geometry, lambda xy: np.round(xy, _DECIMALS))
    # Rounding can pinch a ring into a bow tie; repairing keeps every output valid.
    return rounded if rounded.is_valid else shapely.make_valid(rounded)


def simplified_layer(stored: StoredLayer, tolerance_m: float = GEOJSON_TOLERANCE_M) -> list[Any]:
    """Every zone of the layer simplified together, so neighbours keep their shared edges."""
    return list(_simplified_layer(stored, tolerance_m))


@lru_cache(maxsize=4)
def _simplified_layer(stored: StoredLayer, tolerance_m: float) -> tuple[BaseGeometry, ...]:
    geometries = [zone.geometry for zone in stored.layer.zones]
    projection = LocalProjection.around(shapely.box(*stored.layer.bounds))
    metric = np.array([projection.to_metres(g) for g in geometries], dtype=object)
    if shapely.coverage_is_valid(metric):
        # Simplifying the coverage as a whole leaves no gap or overlap between neighbours.
        thinned = shapely.coverage_simplify(metric, tolerance_m)
    else:
        thinned = shapely.simplify(metric, tolerance_m, preserve_topology=True)
    return tuple(_rounded(projection.to_lonlat(g)) for g in thinned)


def cap_polygons(geometry: BaseGeometry, max_points: int = CAP_MAX_POINTS) -> list[str]:
    """CAP <polygon> values: "lat,lon" pairs, closed rings of at most `max_points` points.

    CAP polygons have no holes, so each part's outer ring is given. Each ring is widened by
    the simplification tolerance before being simplified by it, so the announced area
    still covers the target: a resident at its edge is never left out.
    """
    projection = LocalProjection.around(geometry)
    parts = [g for g in _polygons(projection.to_metres(geometry)) if g.area > 0]
    values = []
    for part in sorted(parts, key=lambda p: p.area, reverse=True):
        outline = Polygon(part.exterior)
        tolerance = _CAP_TOLERANCE_M
        while True:
            ring = outline.buffer(tolerance, join_style="mitre").simplify(tolerance)
            if len(ring.exterior.coords) <= max_points:
                break
            tolerance *= 2
        lonlat = projection.to_lonlat(ring)
        coords = [(round(lat, 5), round(lon, 5)) for lon, lat in lonlat.exterior.coords]
        if coords[0] != coords[-1]:
            coords.append(coords[0])
        if len(coords) >= 4:
            values.append(" ".join(f"{lat:.5f},{lon:.5f}" for lat, lon in coords))
    return values


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons of a (multi)polygon or a collection, nested ones included."""
    found: list[Polygon] = []
    for part in shapely.get_parts(geometry):
        if isinstance(part, Polygon):
            found.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            found.extend(_polygons(part))
    return found
