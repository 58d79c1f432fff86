"""Reading a zone layer file: parse the GeoJSON, find the name field, reproject, repair."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry

from zones.errors import LayerError, LayerOptionError
from zones.names import clean_name
from zones.projection import LONLAT

# Name fields seen in municipal open data, most specific first; compared case- and
# accent-insensitively with underscores ignored, so "NOM_QUARTIER" and "nom quartier" both hit.
NAME_FIELDS = (
    "NOM",
    "name",
    "AREA_NAME",
    "nom_qr",
    "Q_sociologique",
    "NOM_QUARTIER",
    "quartier",
    "NOM_ARRONDISSEMENT",
    "arrondissement",
    "neighbourhood",
    "neighborhood",
    "NHOOD_NAME",
    "district",
    "NOM_OFFICIEL",
    "libelle",
    "label",
    "title",
)
POLYGONAL = ("Polygon", "MultiPolygon")
# The largest layer read unless the caller says otherwise (the service's zones.max_layer_bytes).
MAX_LAYER_BYTES = 200_000_000
_PIECE_BYTES = 1 << 20


@dataclass(frozen=True)
class LoadReport:
    """What happened while loading a layer: counts, source CRS and warnings for the operator."""

    imported: int
    repaired: int
    skipped: int
    crs: str
    warnings: list[str] = field(default_factory=list)


def read_json_file(path: str | Path, max_bytes: int = MAX_LAYER_BYTES) -> tuple[Any, str]:
    """Read and parse a JSON document from a local file of at most `max_bytes`; returns it
    and its source."""
    source = str(path)
    try:
        with open(source, "rb") as handle:
            raw = read_bounded(handle, max_bytes, source)
    except FileNotFoundError as exc:
        raise LayerError(f"cannot read {source}: no such file") from exc
    except OSError as exc:
        raise LayerError(f"cannot read {source}: {exc.strerror or exc}") from exc
    return parse_json(raw, source), source


class Readable(Protocol):
    """A binary stream: a file, an HTTP response."""

    def read(self, size: int, /) -> bytes: ...


def read_bounded(stream: Readable, max_bytes: int, source: str) -> bytearray:
    """Everything a stream holds, read piece by piece, or LayerError past `max_bytes`.

    A device (/dev/zero), a pipe or a server that never stops would otherwise grow the
    process until the kernel kills it: reading stops one piece after the limit.
    """
    data = bytearray()
    while True:
        piece = stream.read(min(_PIECE_BYTES, max_bytes + 1 - len(data)))
        if not piece:
            return data
        data += piece
        if len(data) > max_bytes:
            raise too_large(source, max_bytes)


def too_large(source: str, max_bytes: int) -> LayerError:
    """The error for a layer past the size limit, naming the setting that raises it."""
    return LayerError(
        f"{source}: larger than {max_bytes:,} bytes; raise zones.max_layer_bytes to read it"
    )


def parse_json(raw: bytes | bytearray | str, source: str) -> Any:
    """Parse JSON text, turning decoder errors into a LayerError that names the source."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LayerError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise LayerError(f"{source}: not valid JSON (not UTF-8 text)") from exc
    except RecursionError as exc:  # [[[[... deeper than the interpreter's stack
        raise LayerError(f"{source}: not a zone layer (JSON nested too deeply)") from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise LayerError(f"{source}: not valid JSON ({str(exc).splitlines()[0]})") from exc


def read_layer(
    obj: Any, name_field: str | None, crs: str | None, source: str
) -> tuple[list[tuple[str, BaseGeometry]], LoadReport]:
    """Turn a GeoJSON FeatureCollection into (name, lon/lat geometry) pairs and a report."""
    features = _features(obj, source)
    kept = [(n, f) for n, f in enumerate(features, start=1) if _geometry_type(f) in POLYGONAL]
    skipped = len(features) - len(kept)
    if not kept:
        found = Counter(_geometry_type(f) or "empty" for f in features)
        summary = ", ".join(f"{count} {kind}" for kind, count in found.most_common())
        raise LayerError(
            f"{source}: no Polygon or MultiPolygon features (found {summary or 'no features'})"
        )
    field_name = _name_field([f for _, f in kept], name_field, source)
    warnings: list[str] = []
    if skipped:
        warnings.append(f"{skipped} feature(s) without Polygon/MultiPolygon geometry skipped")

    names = [_feature_name(f, field_name, n, warnings) for n, f in kept]
    built = [_raw_geometry(f, n, source) for n, f in kept]
    source_crs, crs_label = _source_crs(obj, crs, source)
    geoms = _to_lonlat(np.array([g for g, _ in built], dtype=object), source_crs, source)

    pairs: list[tuple[str, BaseGeometry]] = []
    repaired = 0
    for (number, _), name, geom, (_, was_fixed) in zip(kept, names, geoms, built, strict=True):
        fixed, changed = _repair(geom)
        if fixed is None:
            warnings.append(f"feature {number} ('{name}') has no area after repair: dropped")
            skipped += 1
            continue
        repaired += int(changed or was_fixed)
        pairs.append((name, fixed))
    report = LoadReport(len(pairs), repaired, skipped, crs_label, warnings)
    return pairs, report


def _features(obj: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(obj, dict):
        raise LayerError(f"{source}: expected a GeoJSON FeatureCollection, found {_kind(obj)}")
    if obj.get("type") == "Feature":
        return [obj]
    if obj.get("type") != "FeatureCollection" or not isinstance(obj.get("features"), list):
        raise LayerError(
            f"{source}: expected a GeoJSON FeatureCollection, found type '{obj.get('type')}'"
        )
    features = [f for f in obj["features"] if isinstance(f, dict)]
    if not features:
        raise LayerError(f"{source}: the FeatureCollection has no features")
    return features


def _kind(obj: Any) -> str:
    kinds: dict[type, str] = {list: "a JSON array", str: "a JSON string"}
    return kinds.get(type(obj), type(obj).__name__)


def _geometry_type(feature: dict[str, Any]) -> str | None:
    geometry = feature.get("geometry")
    return geometry.get("type") if isinstance(geometry, dict) else None


def _field_key(name: str) -> str:
    """Compare field names without case, accents, spaces or underscores."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


def _name_field(features: list[dict[str, Any]], wanted: str | None, source: str) -> str:
    counts: Counter[str] = Counter()
    filled: Counter[str] = Counter()
    for feature in features:
        for key, value in (feature.get("properties") or {}).items():
            counts[key] += 1
            filled[key] += value is not None and str(value).strip() != ""
    available = ", ".join(counts) or "none"
    if wanted is not None:
        if wanted not in counts:
            raise LayerOptionError(
                f"{source}: no field '{wanted}' (--name-field); available fields: {available}"
            )
        return wanted
    for candidate in NAME_FIELDS:
        for key in counts:
            # "Present and non-empty on most features": a sparse label column is no name field.
            if _field_key(key) == _field_key(candidate) and filled[key] * 2 > len(features):
                return key
    raise LayerError(
        f"{source}: no usable name field (looked for {', '.join(NAME_FIELDS[:8])}, ...); "
        f"available fields: {available}; choose one with --name-field"
    )


def _feature_name(
    feature: dict[str, Any], field_name: str, number: int, warnings: list[str]
) -> str:
    value = (feature.get("properties") or {}).get(field_name)
    # A name is data: printed on terminals, written into XML feeds and SMS replies.
    name = clean_name(str(value)) if value is not None else ""
    if not name:
        name = f"Zone {number}"
        warnings.append(f"feature {number} has no {field_name}: named '{name}'")
    return name


def _raw_geometry(feature: dict[str, Any], number: int, source: str) -> tuple[BaseGeometry, bool]:
    """The feature's geometry as written, and True if rings had to be closed or dropped."""
    geometry = feature["geometry"]
    try:
        return shapely.force_2d(shape(geometry)), False
    except (ValueError, TypeError, IndexError, KeyError, shapely.errors.GEOSException):
        pass
    try:
        polygons = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        parts = [p for p in (_tolerant_polygon(rings) for rings in polygons) if p is not None]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise LayerError(f"{source}: feature {number} has malformed coordinates") from exc
    return shapely.multipolygons(parts) if parts else Polygon(), True


def _tolerant_polygon(rings: list[Any]) -> Polygon | None:
    """A polygon from rings that may be unclosed or too short: close them, drop the unusable."""
    usable = []
    for ring in rings:
        coords = np.asarray(ring, dtype=float)[:, :2]
        if len(coords) and not np.array_equal(coords[0], coords[-1]):
            coords = np.vstack([coords, coords[:1]])
        if len(coords) >= 4:
            usable.append(coords)
        elif not usable:
            return None  # the exterior ring is degenerate: the polygon has no area
    return Polygon(usable[0], usable[1:]) if usable else None


def _source_crs(obj: dict[str, Any], override: str | None, source: str) -> tuple[CRS | None, str]:
    """The CRS to reproject from (None when already lon/lat WGS84) and its label."""
    text = override if override is not None else _declared_crs(obj, source)
    if text is None:
        return None, "OGC:CRS84"  # RFC 7946 says GeoJSON is lon/lat WGS84 unless told otherwise
    try:
        crs = CRS.from_user_input(text)
    except CRSError as exc:
        if override is not None:
            raise LayerOptionError(f"--crs: unknown coordinate system '{text}'") from exc
        raise LayerError(f"{source}: unknown coordinate system '{text}'") from exc
    label = crs.to_string()
    # GeoJSON writes x (longitude) first whatever the CRS's official axis order says.
    return (None if crs.equals(LONLAT, ignore_axis_order=True) else crs), label


def _declared_crs(obj: dict[str, Any], source: str) -> str | None:
    member = obj.get("crs")
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    if isinstance(props, dict) and props.get("name"):
        return str(props["name"])
    if isinstance(props, dict) and props.get("code"):
        return f"EPSG:{props['code']}"
    raise LayerError(f"{source}: cannot understand the 'crs' member {json.dumps(member)[:80]}")


def _to_lonlat(geoms: np.ndarray, crs: CRS | None, source: str) -> np.ndarray:
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    if crs is None:
        if not (minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0):
            raise LayerError(
                f"{source}: coordinates look projected (metres), not longitude/latitude: "
                "give the layer's coordinate system with --crs EPSG:NNNN"
            )
        return geoms
    transformer = Transformer.from_crs(crs, LONLAT, always_xy=True)

    def unproject(coords: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = shapely.transform(geoms, unproject)
    lo_x, lo_y, hi_x, hi_y = shapely.total_bounds(out)
    finite = np.isfinite([lo_x, lo_y, hi_x, hi_y]).all()
    if not (finite and lo_x >= -180 and hi_x <= 180 and lo_y >= -90 and hi_y <= 90):
        raise LayerError(f"{source}: the coordinates do not fit {crs.to_string()}")
    return out


def _repair(geom: BaseGeometry) -> tuple[BaseGeometry | None, bool]:
    """Valid polygonal geometry (or None if nothing is left) and whether it had to change."""
    if geom.is_valid and not geom.is_empty:
        return geom, False
    # "structure" rebuilds areas ring by ring, so a bow-tie or a two-point ring costs no area.
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in POLYGONAL and not p.is_empty]
    if not parts:
        return None, True
    merged = shapely.union_all(parts)
    return (merged if merged.area > 0 else None), True
