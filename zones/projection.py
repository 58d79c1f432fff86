"""Local metric projections: metres and km² near a place, computed with pyproj, never in degrees."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

_GEOD = Geod(ellps="WGS84")
LONLAT = CRS.from_epsg(4326)


@lru_cache(maxsize=64)
def _transformers(proj: str, lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    """Forward and inverse transformers for a projection centred on (lon0, lat0), cached."""
    local = CRS.from_proj4(
        f"+proj={proj} +lat_0={lat0:.9f} +lon_0={lon0:.9f} +datum=WGS84 +units=m +no_defs"
    )
    forward = Transformer.from_crs(LONLAT, local, always_xy=True)
    inverse = Transformer.from_crs(local, LONLAT, always_xy=True)
    return forward, inverse


class LocalProjection:
    """An azimuthal projection centred on a place: distances (aeqd) or areas (laea) stay true."""

    def __init__(self, lon0: float, lat0: float, kind: str = "aeqd") -> None:
        if kind not in ("aeqd", "laea"):
            raise ValueError(f"unsupported local projection kind '{kind}'")
        self.lon0 = lon0
        self.lat0 = lat0
        self._forward, self._inverse = _transformers(kind, lon0, lat0)

    @classmethod
    def around(cls, geometry: BaseGeometry, kind: str = "aeqd") -> LocalProjection:
        """Projection centred on the middle of a geometry's bounding box."""
        minx, miny, maxx, maxy = geometry.bounds
        return cls((minx + maxx) / 2.0, (miny + maxy) / 2.0, kind)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """Project one lon/lat pair to metres."""
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def to_metres(self, geometry: BaseGeometry) -> BaseGeometry:
        """Project a lon/lat geometry to metres."""
        return shapely.transform(geometry, self._project_xy)

    def to_lonlat(self, geometry: BaseGeometry) -> BaseGeometry:
        """Project a geometry in metres back to lon/lat."""
        return shapely.transform(geometry, self._unproject_xy)

    def _project_xy(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._forward.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def _unproject_xy(self, coords: np.ndarray) -> np.ndarray:
        lon, lat = self._inverse.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])


def area_km2(geometry: BaseGeometry) -> float:
    """Area of a lon/lat geometry in km², in an equal-area projection centred on it."""
    if geometry.is_empty:
        return 0.0
    projected = LocalProjection.around(geometry, kind="laea").to_metres(geometry)
    return float(projected.area) / 1e6


def degrees_spanning(metres: float, lat_min: float, lat_max: float) -> float:
    """Degrees that surely cover `metres` in any direction between two latitudes.

    Used to widen lon/lat boxes before exact metric tests, so it errs on the large side.
    """
    lat = min(max(abs(lat_min), abs(lat_max)), 89.0)
    # One degree of longitude is shortest at the most poleward latitude of the range.
    lon2, _, _ = _GEOD.fwd(0.0, lat, 90.0, 1000.0)
    return 1.05 * metres * abs(lon2) / 1000.0
