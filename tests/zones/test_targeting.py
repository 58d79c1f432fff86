"""Targeting: zones meeting a polygon, zones within a radius, circles drawn in metres."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, box

from zones import ZoneLayer

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def squares() -> ZoneLayer:
    return ZoneLayer(
        [
            ("Ouest", box(-71.30, 46.80, -71.20, 46.90)),
            ("Est", box(-71.20, 46.80, -71.10, 46.90)),
            ("Loin", box(-70.50, 46.80, -70.40, 46.90)),
        ]
    )


def test_zones_intersecting_ignores_touching_borders(squares: ZoneLayer) -> None:
    names = lambda geometry: [z.name for z in squares.zones_intersecting(geometry)]  # noqa: E731
    assert names(box(-71.30, 46.80, -71.20, 46.90)) == ["Ouest"]
    assert names(box(-71.25, 46.82, -71.15, 46.84)) == ["Ouest", "Est"]
    assert names(LineString([(-71.20, 46.81), (-71.20, 46.89)])) == []
    assert names(box(-71.0, 46.0, -70.9, 46.1)) == []


def test_zones_within_measures_metres_on_the_ground(squares: ZoneLayer) -> None:
    lon, lat = -71.30 - 0.01, 46.85  # west of "Ouest"
    _, _, gap = GEOD.inv(lon, lat, -71.30, lat)
    assert 700 < gap < 800  # 0.01 degree of longitude at 46.85 N
    assert squares.zones_within(lon, lat, gap - 2.0) == []
    assert [z.name for z in squares.zones_within(lon, lat, gap + 2.0)] == ["Ouest"]
    inside = squares.zones_within(-71.15, 46.85, 1.0)
    assert [z.name for z in inside] == ["Est"]
    assert [z.name for z in squares.zones_within(-71.20, 46.85, 60_000)] == ["Ouest", "Est", "Loin"]


def test_circle_is_round_in_metres(squares: ZoneLayer) -> None:
    lon, lat, radius = -71.205, 46.81, 750.0  # about 380 m west of the Ouest|Est border
    circle = squares.circle(lon, lat, radius)
    ring = np.asarray(circle.exterior.coords)
    _, _, distances = GEOD.inv(
        np.full(len(ring), lon), np.full(len(ring), lat), ring[:, 0], ring[:, 1]
    )
    assert np.allclose(distances, radius, rtol=1e-3)
    area, _ = GEOD.geometry_area_perimeter(circle)
    assert abs(area) == pytest.approx(math.pi * radius**2, rel=0.01)
    assert [z.name for z in squares.zones_intersecting(circle)] == ["Ouest", "Est"]


def test_radar_circle_in_quebec(quebec: ZoneLayer) -> None:
    centre = quebec.by_name("Saint-Roch").geometry.representative_point()
    circle = quebec.circle(centre.x, centre.y, 300.0)
    hits = quebec.zones_intersecting(circle)
    assert quebec.by_name("Saint-Roch") in hits
    within = quebec.zones_within(centre.x, centre.y, 300.0)
    assert {z.index for z in within} >= {z.index for z in hits}
    assert shapely.is_valid(circle)
