"""Test-only references independent of the code under test: even-odd ray casting in numpy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer


def feature_rings(geometry: dict[str, Any]) -> list[np.ndarray]:
    """Every ring (outer and inner, all parts) of a GeoJSON Polygon/MultiPolygon, as arrays."""
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    return [np.asarray(ring, dtype=float)[:, :2] for polygon in polygons for ring in polygon]


def even_odd_contains(rings: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where a horizontal ray from the point crosses the rings an odd number of times."""
    inside = np.zeros(x.shape, dtype=bool)
    px, py = x[:, None], y[:, None]
    for ring in rings:
        for start in range(0, len(ring) - 1, 256):
            edges = ring[start : start + 257]
            x1, y1, x2, y2 = edges[:-1, 0], edges[:-1, 1], edges[1:, 0], edges[1:, 1]
            straddles = (y1 > py) != (y2 > py)
            with np.errstate(divide="ignore", invalid="ignore"):
                crossing_x = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
            inside ^= (np.count_nonzero(straddles & (px < crossing_x), axis=1) % 2).astype(bool)
    return inside


def reference_zones(path: Path, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the first feature containing each point (-1 for none), by ray casting."""
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    result = np.full(x.shape, -1, dtype=np.int64)
    for index, feature in reversed(list(enumerate(features))):
        rings = feature_rings(feature["geometry"])
        allx = np.concatenate([r[:, 0] for r in rings])
        ally = np.concatenate([r[:, 1] for r in rings])
        box = (x >= allx.min()) & (x <= allx.max()) & (y >= ally.min()) & (y <= ally.max())
        candidates = np.flatnonzero(box)
        for chunk in np.array_split(candidates, max(1, len(candidates) // 2000)):
            hit = even_odd_contains(rings, x[chunk], y[chunk])
            result[chunk[hit]] = index
    return result


def near_boundaries(path: Path, x: np.ndarray, y: np.ndarray, metres: float) -> np.ndarray:
    """True for points within `metres` of any ring edge of the file, measured in a local AEQD."""
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    lon0, lat0 = float(np.mean(x)), float(np.mean(y))
    to_m = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m", always_xy=True
    )
    segments = []
    for feature in features:
        for ring in feature_rings(feature["geometry"]):
            rx, ry = to_m.transform(ring[:, 0], ring[:, 1])
            pairs = np.stack(
                [np.column_stack([rx[:-1], ry[:-1]]), np.column_stack([rx[1:], ry[1:]])], 1
            )
            segments.append(pairs)
    lines = shapely.linestrings(np.concatenate(segments))
    px, py = to_m.transform(x, y)
    points = shapely.points(px, py)
    near = np.zeros(x.shape, dtype=bool)
    near[shapely.STRtree(lines).query(points, predicate="dwithin", distance=metres)[0]] = True
    return near


def random_points(
    bounds: tuple[float, ...], count: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random lon/lat points in a bounding box, reproducible by seed."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = bounds
    return rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)
