"""The zone layer drawn as SVG on the server: projected to metres, simplified, one path per zone.

The map needs no tiles, script or network: a local azimuthal projection centred on the
layer keeps shapes true at a city's scale, and simplifying to about half a pixel keeps the
page small while neighbours still share their edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from alerts.storage.zone_catalog import StoredLayer
from zones.projection import LocalProjection

MAP_WIDTH = 640.0
_MARGIN = 8.0
# Zones narrower than this on the map (in pixels) get no printed name; their link stays.
_LABEL_MIN_WIDTH = 48.0


@dataclass(frozen=True)
class MapZone:
    """One zone on the map: its database id, the SVG path and where its name is printed."""

    zone_id: int
    slug: str
    name: str
    path: str
    label_x: float
    label_y: float
    labelled: bool


@dataclass(frozen=True)
class ZoneMap:
    """The drawn layer: the canvas size and every zone in layer order."""

    width: float
    height: float
    zones: tuple[MapZone, ...]

    @property
    def view_box(self) -> str:
        """The SVG viewBox attribute."""
        return f"0 0 {self.width:.0f} {self.height:.0f}"


@lru_cache(maxsize=4)
def zone_map(stored: StoredLayer, width: float = MAP_WIDTH) -> ZoneMap:
    """The layer as SVG paths on a canvas `width` pixels wide (built once per layer version)."""
    layer = stored.layer
    projection = LocalProjection.around(shapely.box(*layer.bounds))
    metric = np.array([projection.to_metres(zone.geometry) for zone in layer.zones], dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(metric)
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    scale = (width - 2 * _MARGIN) / span_x
    height = span_y * scale + 2 * _MARGIN
    tolerance = 0.5 / scale  # half a pixel, in metres
    if shapely.coverage_is_valid(metric):
        thinned = shapely.coverage_simplify(metric, tolerance)
    else:
        thinned = shapely.simplify(metric, tolerance, preserve_topology=True)

    def to_canvas(xy: np.ndarray) -> np.ndarray:
        # SVG's y axis points down; north stays up.
        return np.column_stack(
            [(xy[:, 0] - minx) * scale + _MARGIN, (maxy - xy[:, 1]) * scale + _MARGIN]
        )

    zones = []
    for zone, shape in zip(layer.zones, thinned, strict=True):
        canvas = shapely.transform(shape, to_canvas)
        label = canvas.point_on_surface()
        bx0, _, bx1, _ = canvas.bounds
        zones.append(
            MapZone(
                zone_id=stored.zone_id(zone.index),
                slug=zone.slug,
                name=zone.name,
                path=svg_path(canvas),
                label_x=round(label.x, 1),
                label_y=round(label.y, 1),
                labelled=bx1 - bx0 >= _LABEL_MIN_WIDTH,
            )
        )
    return ZoneMap(width, round(height, 1), tuple(zones))


def svg_path(geometry: BaseGeometry) -> str:
    """SVG path data of a (multi)polygon: one closed subpath per ring (holes by even-odd)."""
    parts = []
    for polygon in shapely.get_parts(geometry):
        if not isinstance(polygon, Polygon) or polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            coords = np.asarray(ring.coords)[:-1]
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f"M{points}Z")
    return "".join(parts)
