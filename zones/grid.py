"""A regular lon/lat grid over a layer that answers most point lookups without geometry.

Each fine cell holds a code: a zone index when the whole cell lies inside that zone's interior,
FAR when it is outside every zone by more than the snap distance, or a negative group number
when the cell is mixed: then a short list of candidate zones is tested exactly with shapely.
Cells are classified coarse to fine, so only cells along boundaries are ever refined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

FAR = -1
_REFINE = -2
_SPLIT = 4  # each refined cell becomes SPLIT x SPLIT children
_LEVELS = 4  # coarse level plus three refinements: 64 fine cells per coarse cell side
FINE_CELLS = 1024  # fine cells along the longer side of the layer
_EDGE_EPS = 1e-7  # boxes grow by this fraction of a cell so float rounding never escapes them


@dataclass(frozen=True)
class CellGroup:
    """Candidates of a mixed cell: zones meeting it (`cover`) and zones within snap (`near`)."""

    cover: tuple[int, ...]
    near: tuple[int, ...]


class CellGrid:
    """Cell codes over the layer's bounds (widened by the snap distance)."""

    def __init__(self, geoms: list[BaseGeometry], snap_deg: float) -> None:
        self.geoms = np.array(geoms, dtype=object)
        shapely.prepare(self.geoms)
        self.boundaries = shapely.boundary(self.geoms)
        shapely.prepare(self.boundaries)
        self.snap_deg = snap_deg
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        margin = snap_deg * 1.5
        self.x0, self.y0 = minx - margin, miny - margin
        width, height = maxx - minx + 2 * margin, maxy - miny + 2 * margin
        # Square cells on the ground: a degree of longitude shrinks with cos(latitude).
        squash = max(math.cos(math.radians((miny + maxy) / 2.0)), 0.05)
        side = max(width * squash, height) / FINE_CELLS
        block = _SPLIT ** (_LEVELS - 1)
        self.dx, self.dy = side / squash, side
        nx0, ny0 = math.ceil(width / (self.dx * block)), math.ceil(height / (self.dy * block))
        self.nx, self.ny = nx0 * block, ny0 * block
        self.inv_dx, self.inv_dy = 1.0 / self.dx, 1.0 / self.dy
        self.groups: list[CellGroup] = []
        self.codes = self._classify(nx0, ny0).ravel()
        self.cover_matrix = np.zeros((len(self.groups), len(geoms)), dtype=bool)
        for gid, group in enumerate(self.groups):
            self.cover_matrix[gid, list(group.cover)] = True

    def cells_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Codes of the cells holding each point (FAR outside the grid, NaN included)."""
        fx = (np.asarray(lon, dtype=float) - self.x0) * self.inv_dx
        fy = (np.asarray(lat, dtype=float) - self.y0) * self.inv_dy
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        codes = np.full(fx.shape, FAR, dtype=np.int32)
        i = fx[inside].astype(np.int64)  # non-negative, so truncation is floor as in locate()
        j = fy[inside].astype(np.int64)
        codes[inside] = self.codes[j * self.nx + i]
        return codes

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the zone covering each point, -1 for none; lowest index wins on boundaries."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        codes = self.cells_of(lon, lat)
        result = np.where(codes >= 0, codes, -1)
        mixed = np.flatnonzero(codes <= _REFINE)
        if mixed.size:
            gids = _REFINE - codes[mixed]
            found = np.full(mixed.size, -1, dtype=np.int32)
            # One exact vectorized test per zone, in index order, so the lowest index wins.
            for zone in np.flatnonzero(self.cover_matrix[np.unique(gids)].any(axis=0)):
                todo = np.flatnonzero(self.cover_matrix[gids, zone] & (found < 0))
                if todo.size:
                    pts = mixed[todo]
                    hit = shapely.intersects_xy(self.geoms[zone], lon[pts], lat[pts])
                    found[todo[hit]] = zone
            result[mixed] = found
        return result

    def _boxes(
        self, i: np.ndarray, j: np.ndarray, dx: float, dy: float, grow: float = 0.0
    ) -> np.ndarray:
        ex, ey = dx * _EDGE_EPS + grow, dy * _EDGE_EPS + grow
        x = self.x0 + i * dx
        y = self.y0 + j * dy
        return shapely.box(x - ex, y - ey, x + dx + ex, y + dy + ey)

    def _classify(self, nx0: int, ny0: int) -> np.ndarray:
        """Codes of every fine cell, refining only the cells that need it."""
        codes = np.full((ny0, nx0), _REFINE, dtype=np.int32)
        dx, dy = self.dx * _SPLIT ** (_LEVELS - 1), self.dy * _SPLIT ** (_LEVELS - 1)
        for level in range(_LEVELS):
            if level:
                codes = np.repeat(np.repeat(codes, _SPLIT, axis=0), _SPLIT, axis=1)
                dx, dy = dx / _SPLIT, dy / _SPLIT
            j, i = np.nonzero(codes == _REFINE)
            if not i.size:
                break
            codes[j, i] = self._classify_cells(i, j, dx, dy, last=level == _LEVELS - 1)
        return codes

    def _classify_cells(
        self, i: np.ndarray, j: np.ndarray, dx: float, dy: float, last: bool
    ) -> np.ndarray:
        boxes = self._boxes(i, j, dx, dy)
        tree = shapely.STRtree(boxes)
        touched = np.zeros(len(boxes), dtype=bool)
        touched[tree.query(self.boundaries, predicate="intersects")[1]] = True
        cover_zone, cover_box = tree.query(self.geoms, predicate="intersects")
        first_cover = np.full(len(boxes), np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(first_cover, cover_box, cover_zone)

        # A box no boundary crosses is inside (all of) the zones it meets, or outside all.
        codes = np.where(touched, _REFINE, first_cover).astype(np.int64)
        outside = np.flatnonzero(~touched & (first_cover == np.iinfo(np.int32).max))
        codes[outside] = FAR
        # Widening the box by the snap distance is a cheap, slightly generous "dwithin":
        # a cell wrongly kept near only costs an exact distance test later.
        grown = self._boxes(i[outside], j[outside], dx, dy, grow=self.snap_deg)
        near_box = shapely.STRtree(grown).query(self.geoms, predicate="intersects")[1]
        codes[outside[near_box]] = _REFINE
        if last:
            pending = np.flatnonzero(codes == _REFINE)
            grown = self._boxes(i[pending], j[pending], dx, dy, grow=self.snap_deg)
            codes[pending] = self._group_codes(grown, cover_zone, cover_box, pending)
        return codes.astype(np.int32)

    def _group_codes(
        self,
        grown: np.ndarray,
        cover_zone: np.ndarray,
        cover_box: np.ndarray,
        pending: np.ndarray,
    ) -> np.ndarray:
        """Group codes for mixed fine cells, sharing one group per distinct candidate set."""
        near_zone, near_box = shapely.STRtree(grown).query(self.geoms, predicate="intersects")
        position = np.full(int(pending.max()) + 1, -1, dtype=np.int64)
        position[pending] = np.arange(pending.size)
        covers: list[list[int]] = [[] for _ in range(pending.size)]
        nears: list[list[int]] = [[] for _ in range(pending.size)]
        keep = cover_box <= pending.max()
        for zone, box in zip(cover_zone[keep], position[cover_box[keep]], strict=True):
            if box >= 0:
                covers[box].append(int(zone))
        for zone, box in zip(near_zone, near_box, strict=True):
            nears[box].append(int(zone))
        index: dict[CellGroup, int] = {g: n for n, g in enumerate(self.groups)}
        codes = np.empty(pending.size, dtype=np.int64)
        for n, (cover, near) in enumerate(zip(covers, nears, strict=True)):
            group = CellGroup(tuple(sorted(cover)), tuple(sorted(set(near) | set(cover))))
            gid = index.setdefault(group, len(self.groups))
            if gid == len(self.groups):
                self.groups.append(group)
            codes[n] = _REFINE - gid
        return codes
