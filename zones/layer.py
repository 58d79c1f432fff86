"""ZoneLayer: the neighbourhoods of a city, loaded once, then located and targeted quickly."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from zones.errors import AmbiguousZone, LayerError, UnknownZone
from zones.grid import FAR, CellGrid
from zones.layer_file import MAX_LAYER_BYTES, LoadReport, parse_json, read_json_file, read_layer
from zones.names import ZoneNames, slugify
from zones.projection import LocalProjection, area_km2, degrees_spanning

_NOWHERE: tuple[None, float] = (None, math.inf)

# Single lookups the zones' tree answers before the grid is built: a command or a resident's
# text needs one or two, and the grid pays for itself only over many more.
TREE_LOOKUPS = 1000


@dataclass(frozen=True)
class Zone:
    """One neighbourhood: its position in the layer, its name, a unique slug, its lon/lat area."""

    index: int
    name: str
    slug: str
    geometry: BaseGeometry = field(compare=False, repr=False)

    @cached_property
    def area_km2(self) -> float:
        """Area in km², computed in an equal-area projection centred on the zone."""
        return area_km2(self.geometry)


class ZoneLayer:
    """A set of named zones in lon/lat (EPSG:4326) with fast point lookup and targeting.

    Duplicate names are kept as distinct zones (two features may be two places); their slugs
    get -2, -3... suffixes, a warning is added to the report, and a name lookup that hits
    both is reported as ambiguous rather than guessed.
    """

    def __init__(
        self,
        zones_named: list[tuple[str, BaseGeometry]],
        snap_meters: float = 50.0,
        *,
        report: LoadReport | None = None,
        source: str = "<memory>",
        aliases: dict[str, str] | None = None,
    ) -> None:
        if not zones_named:
            raise LayerError(f"{source}: a zone layer needs at least one zone")
        for name, geom in zones_named:
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                raise LayerError(f"{source}: zone '{name}' is not a polygon")
        self.source = source
        self.snap_meters = float(snap_meters)
        self.zones = tuple(self._zones_with_slugs(zones_named))
        warnings = self._duplicate_warnings()
        report = report or LoadReport(len(self.zones), 0, 0, "EPSG:4326", [])
        self.report = replace(report, warnings=[*report.warnings, *warnings])
        self.names = ZoneNames([z.name for z in self.zones], aliases)
        geoms = [z.geometry for z in self.zones]
        self.bounds: tuple[float, float, float, float] = tuple(shapely.total_bounds(geoms))
        self._geoms = np.array(geoms, dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        self._metric = LocalProjection.around(shapely.box(*self.bounds))
        self._inside = [(zone, 0.0) for zone in self.zones]
        self._tree_lookups = 0

    @classmethod
    def from_geometries(
        cls,
        zones_named: list[tuple[str, BaseGeometry]],
        snap_meters: float = 50.0,
        aliases: dict[str, str] | None = None,
    ) -> ZoneLayer:
        """Rebuild a layer already stored as valid lon/lat geometries, without reading a file."""
        return cls(zones_named, snap_meters, aliases=aliases)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        name_field: str | None = None,
        crs: str | None = None,
        snap_meters: float = 50.0,
        aliases: dict[str, str] | None = None,
        max_bytes: int = MAX_LAYER_BYTES,
    ) -> ZoneLayer:
        """Load a GeoJSON layer from a local file of at most `max_bytes`."""
        obj, source = read_json_file(path, max_bytes)
        return cls.from_geojson(obj, name_field, crs, source, snap_meters, aliases)

    @classmethod
    def from_geojson(
        cls,
        obj_or_bytes: Any,
        name_field: str | None = None,
        crs: str | None = None,
        source: str = "<memory>",
        snap_meters: float = 50.0,
        aliases: dict[str, str] | None = None,
    ) -> ZoneLayer:
        """Load a layer from a parsed GeoJSON object, or from its bytes or text."""
        obj = (
            parse_json(obj_or_bytes, source)
            if isinstance(obj_or_bytes, str | bytes | bytearray)
            else obj_or_bytes
        )
        try:
            pairs, report = read_layer(obj, name_field, crs, source)
        except RecursionError:  # a name or crs member nested hundreds deep, printed or copied
            raise LayerError(f"{source}: not a zone layer (nested too deeply)") from None
        return cls(pairs, snap_meters, report=report, source=source, aliases=aliases)

    def __len__(self) -> int:
        return len(self.zones)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self.zones)

    def __getitem__(self, index: int) -> Zone:
        return self.zones[index]

    def __repr__(self) -> str:
        return f"ZoneLayer({self.source!r}, {len(self.zones)} zones)"

    def by_slug(self, slug: str) -> Zone:
        """The zone with this slug, or UnknownZone."""
        for zone in self.zones:
            if zone.slug == slug:
                return zone
        raise UnknownZone(slug, self.names.suggest(slug))

    def by_name(self, exact_name: str) -> Zone:
        """The zone with exactly this name, UnknownZone, or AmbiguousZone for duplicate names."""
        hits = [zone for zone in self.zones if zone.name == exact_name]
        if len(hits) > 1:
            raise AmbiguousZone(exact_name, [f"{z.name} ({z.slug})" for z in hits])
        if not hits:
            raise UnknownZone(exact_name, self.names.suggest(exact_name))
        return hits[0]

    def find(self, text: str) -> Zone:
        """The zone a person means by `text` (accents, case, St/Ste, prefixes forgiven)."""
        hits = self.names.match(text)
        if len(hits) == 1:
            return self.zones[hits[0]]
        if hits:
            names = [self.zones[i].name for i in hits]
            if len(set(names)) < len(names):
                names = [f"{self.zones[i].name} ({self.zones[i].slug})" for i in hits]
            raise AmbiguousZone(text, names)
        raise UnknownZone(text, self.names.suggest(text))

    def locate(self, lon: float, lat: float) -> tuple[Zone | None, float]:
        """Zone holding the point and distance in metres: 0 inside, snapped, or (None, inf)."""
        if "_grid" not in self.__dict__ and self._tree_lookups < TREE_LOOKUPS:
            self._tree_lookups += 1  # a race between threads only builds the grid later
            return self._locate_by_tree(lon, lat)
        grid = self._grid
        fx = (lon - grid.x0) * grid.inv_dx
        fy = (lat - grid.y0) * grid.inv_dy
        if not (0.0 <= fx < grid.nx and 0.0 <= fy < grid.ny):  # also rejects NaN
            return _NOWHERE
        code = self._cells[int(fy) * grid.nx + int(fx)]
        if code >= 0:
            return self._inside[code]
        if code == FAR:
            return _NOWHERE
        group = grid.groups[FAR - 1 - code]
        geoms = self._geoms
        for index in group.cover:  # sorted, so the lowest index wins on a shared boundary
            if shapely.intersects_xy(geoms[index], lon, lat):
                return self._inside[index]
        return self._snap(group.near, lon, lat)

    def _locate_by_tree(self, lon: float, lat: float) -> tuple[Zone | None, float]:
        """`locate` without the grid: the zones' tree, then the exact tests (same answers)."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return _NOWHERE
        inside = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(inside):  # the lowest index wins on a shared boundary, as with the grid
            return self._inside[int(inside.min())]
        reach = self._snap_deg
        near = self._tree.query(shapely.box(lon - reach, lat - reach, lon + reach, lat + reach))
        return self._snap(tuple(sorted(near.tolist())), lon, lat)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Zone index for each point (-1 outside, no snapping), vectorized; agrees with locate."""
        return self._grid.locate_many(lon, lat)

    def zones_intersecting(self, geometry: BaseGeometry) -> list[Zone]:
        """Zones whose interior meets the geometry's interior (touching borders do not count)."""
        hits = self._tree.query(geometry, predicate="intersects")
        hits = hits[~shapely.touches(self._geoms[hits], geometry)]
        return [self.zones[i] for i in sorted(hits.tolist())]

    def zones_within(self, lon: float, lat: float, radius_m: float) -> list[Zone]:
        """Zones within `radius_m` metres of a point, measured in a projection centred on it."""
        # Generous lon/lat box first (a degree of latitude is at least 110 km), exact test after.
        spread = radius_m / 110_000.0
        reach = max(degrees_spanning(radius_m, lat - spread, lat + spread), spread)
        near = self._tree.query(shapely.box(lon - reach, lat - reach, lon + reach, lat + reach))
        local = LocalProjection(lon, lat)
        origin = Point(0.0, 0.0)
        hits = [
            i
            for i in sorted(near.tolist())
            if local.to_metres(self._geoms[i]).distance(origin) <= radius_m
        ]
        return [self.zones[i] for i in hits]

    def circle(self, lon: float, lat: float, radius_m: float) -> Polygon:
        """A lon/lat polygon approximating the circle of `radius_m` metres around a point."""
        local = LocalProjection(lon, lat)
        disc = Point(0.0, 0.0).buffer(radius_m, quad_segs=32)
        return local.to_lonlat(disc)

    @cached_property
    def _grid(self) -> CellGrid:
        """The lookup grid, built after the first few single lookups or for the first bulk one
        (about a second for a city)."""
        return CellGrid(list(self._geoms), self._snap_deg)

    @cached_property
    def _snap_deg(self) -> float:
        """The snap distance in degrees, on both axes, anywhere in the layer (generous)."""
        return degrees_spanning(self.snap_meters, self.bounds[1], self.bounds[3])

    @cached_property
    def _cells(self) -> memoryview:
        """Cell codes as a memoryview: indexing yields plain ints, far faster than numpy's."""
        # The same view as memoryview(codes), which numpy's stubs accept only on Python 3.12+.
        return self._grid.codes.data

    @cached_property
    def _metric_geoms(self) -> np.ndarray:
        """Zones in the layer's local metric projection, built on the first snap."""
        return np.array([self._metric.to_metres(g) for g in self._geoms], dtype=object)

    def _snap(
        self, candidates: tuple[int, ...], lon: float, lat: float
    ) -> tuple[Zone | None, float]:
        """Nearest candidate zone within the snap distance (lowest index on a tie)."""
        if not candidates:
            return _NOWHERE
        x, y = self._metric.point(lon, lat)
        distances = shapely.distance(self._metric_geoms[list(candidates)], Point(x, y))
        best = int(np.argmin(distances))
        distance = float(distances[best])
        if distance > self.snap_meters:
            return _NOWHERE
        return self.zones[candidates[best]], distance

    def _zones_with_slugs(self, zones_named: list[tuple[str, BaseGeometry]]) -> Iterator[Zone]:
        taken: set[str] = set()
        for index, (name, geom) in enumerate(zones_named):
            base = slugify(name) or f"zone-{index + 1}"
            slug, n = base, 1
            while slug in taken:
                n += 1
                slug = f"{base}-{n}"
            taken.add(slug)
            yield Zone(index, name, slug, geom)

    def _duplicate_warnings(self) -> list[str]:
        seen: dict[str, list[str]] = {}
        for zone in self.zones:
            seen.setdefault(zone.name, []).append(zone.slug)
        return [
            f"{len(slugs)} zones named '{name}' kept apart as {', '.join(slugs)}"
            for name, slugs in seen.items()
            if len(slugs) > 1
        ]


# A zone under another name is the same zone renamed when the two outlines overlap this much
# (the area they share over the area they cover together).
RENAME_OVERLAP = 0.9


@dataclass(frozen=True)
class ZonePairing:
    """Which zone of an earlier layer each zone of a new one continues (None: a new zone)."""

    previous: tuple[int | None, ...]
    removed: tuple[int, ...]  # earlier zones that no new zone continues
    reshaped: tuple[int, ...]  # new zones continuing one of the same name with another outline
    renamed: tuple[int, ...]  # new zones continuing one of another name

    @property
    def added(self) -> tuple[int, ...]:
        """The new zones that continue none."""
        return tuple(index for index, old in enumerate(self.previous) if old is None)


def pair_zones(earlier: list[tuple[str, BaseGeometry]], layer: ZoneLayer) -> ZonePairing:
    """Match a new layer's zones to an earlier layer's by name and position.

    In turn: the same name and outline; the same name (several zones of one name pair by
    overlap, then by nearness); another name on an outline overlapping by RENAME_OVERLAP.
    Names may repeat in a layer, so a name alone cannot say which zone is which: a file
    imported again continues every zone it holds, one for one.
    """
    previous: list[int | None] = [None] * len(layer.zones)
    free = set(range(len(earlier)))
    by_outline: dict[tuple[str, bytes], list[int]] = {}
    for index, (name, geometry) in enumerate(earlier):
        by_outline.setdefault((name, _outline_key(geometry)), []).append(index)
    for zone in layer.zones:
        same = by_outline.get((zone.name, _outline_key(zone.geometry)))
        if same:
            old = same.pop(0)
            previous[zone.index] = old
            free.discard(old)
    reshaped: list[int] = []
    old_named: dict[str, list[int]] = {}
    for index in sorted(free):
        old_named.setdefault(earlier[index][0], []).append(index)
    for zone in layer.zones:
        if previous[zone.index] is None and old_named.get(zone.name):
            olds = old_named[zone.name]
            named = [
                z.index for z in layer.zones if z.name == zone.name and previous[z.index] is None
            ]
            for new, old in _closest_pairs(named, olds, layer, earlier, minimum=None):
                previous[new] = old
                free.discard(old)
                reshaped.append(new)
            olds.clear()
    news = [z.index for z in layer.zones if previous[z.index] is None]
    renamed = []
    for new, old in _closest_pairs(news, sorted(free), layer, earlier, minimum=RENAME_OVERLAP):
        previous[new] = old
        free.discard(old)
        renamed.append(new)
    return ZonePairing(tuple(previous), tuple(sorted(free)), tuple(reshaped), tuple(renamed))


def _outline_key(geometry: BaseGeometry) -> bytes:
    """The same for the same outline, whatever the ring order, orientation or start."""
    return hashlib.blake2b(shapely.to_wkb(shapely.normalize(geometry)), digest_size=16).digest()


def _closest_pairs(
    news: list[int],
    olds: list[int],
    layer: ZoneLayer,
    earlier: list[tuple[str, BaseGeometry]],
    minimum: float | None,
) -> list[tuple[int, int]]:
    """Pairs (new, old), each zone in one pair at most, the most overlapping first, then the
    nearest; with a `minimum` overlap, only pairs reaching it (else every zone finds one)."""
    if not news or not olds:
        return []
    old_geoms = np.array([earlier[i][1] for i in olds], dtype=object)
    new_geoms = np.array([layer.zones[j].geometry for j in news], dtype=object)
    if minimum is None:  # every pair: the zones of one name, a handful
        grid = np.indices((len(news), len(olds))).reshape(2, -1)
        new_at, old_at = grid[0], grid[1]
    else:  # only outlines whose boxes meet can overlap
        new_at, old_at = shapely.STRtree(old_geoms).query(new_geoms, predicate="intersects")
    a, b = new_geoms[new_at], old_geoms[old_at]
    shared = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - shared
    overlap = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    apart = shapely.distance(shapely.centroid(a), shapely.centroid(b))
    taken_new: set[int] = set()
    taken_old: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in np.lexsort((old_at, new_at, apart, -overlap)).tolist():
        new, old = news[int(new_at[k])], olds[int(old_at[k])]
        if new in taken_new or old in taken_old:
            continue
        if minimum is not None and overlap[k] < minimum:
            break
        taken_new.add(new)
        taken_old.add(old)
        pairs.append((new, old))
    return pairs
