"""Address point files (CSV or GeoJSON points) read into AddressPoint records for a gazetteer."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zones.addresses import parse_civic
from zones.errors import AddressFileError, AddressOptionError
from zones.names import fold

# Column names found without flags, compared without case, accents, spaces or underscores.
NUMBER_FIELDS = (
    "NO_CIVIQUE", "numero", "no_civique", "number", "civic_number", "ADDRESS_NUMBER",
    "civique", "numero_civique", "house_number", "housenumber", "addr:housenumber", "no",
)  # fmt: skip
STREET_FIELDS = (
    "RUE", "street", "nom_rue", "LINEAR_NAME_FULL", "street_name", "odonyme", "nom_voie",
    "addr:street", "voie", "nom_topographique_voie",
)  # fmt: skip
LON_FIELDS = ("lon", "longitude", "lng", "long", "x")
LAT_FIELDS = ("lat", "latitude", "y")


@dataclass(frozen=True)
class AddressPoint:
    """One civic address and where it is (lon/lat)."""

    number: int
    suffix: str
    street: str
    lon: float
    lat: float


def read_address_points(
    path: str | Path,
    number_field: str | None = None,
    street_field: str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
) -> list[AddressPoint]:
    """Address points from a CSV (header row, `,` or `;`) or a GeoJSON FeatureCollection of points.

    Rows without a civic number or street are places, not addresses: they are skipped.
    Anything else that cannot be read raises AddressFileError naming the line or feature.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise AddressFileError(f"cannot read {path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AddressFileError(f"cannot read {path}: {exc}") from exc
    fields: tuple[str | None, str | None, str | None, str | None]
    if path.suffix.lower() in (".geojson", ".json") or text.lstrip().startswith("{"):
        rows = _geojson_rows(text, path)
        fields = (number_field, street_field, None, None)
    else:
        rows = _csv_rows(text, path)
        fields = (number_field, street_field, lon_field, lat_field)
    return list(_points(rows, path, *fields))


Row = tuple[str, dict[str, Any], tuple[Any, Any] | None]  # (where, properties, lon/lat or None)


def _csv_rows(text: str, path: Path) -> list[Row]:
    header = text.split("\n", 1)[0]
    # The header tells the separator: French spreadsheets export with semicolons.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise AddressFileError(f"{path}: empty file, expected a header row")
    rows: list[Row] = []
    try:
        for record in reader:
            if any((value or "").strip() for value in record.values() if isinstance(value, str)):
                rows.append((f"line {reader.line_num}", record, None))
    except csv.Error as exc:
        raise AddressFileError(f"{path}, line {reader.line_num}: {exc}") from exc
    if not rows:
        raise AddressFileError(f"{path}: no rows after the header")
    return rows


def _geojson_rows(text: str, path: Path) -> list[Row]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AddressFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    features = obj.get("features") if isinstance(obj, dict) else None
    if not isinstance(features, list) or not features:
        raise AddressFileError(f"{path}: expected a GeoJSON FeatureCollection of points")
    rows: list[Row] = []
    for n, feature in enumerate(features, start=1):
        geometry = (feature or {}).get("geometry") or {}
        coords = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise AddressFileError(f"{path}, feature {n}: not a Point")
        rows.append((f"feature {n}", feature.get("properties") or {}, (coords[0], coords[1])))
    return rows


def _points(
    rows: list[Row],
    path: Path,
    number_field: str | None,
    street_field: str | None,
    lon_field: str | None,
    lat_field: str | None,
) -> Iterator[AddressPoint]:
    columns = list(rows[0][1])
    number_key = _column(columns, number_field, NUMBER_FIELDS, "civic number", path)
    street_key = _column(columns, street_field, STREET_FIELDS, "street", path)
    has_geometry = rows[0][2] is not None
    lon_key = None if has_geometry else _column(columns, lon_field, LON_FIELDS, "longitude", path)
    lat_key = None if has_geometry else _column(columns, lat_field, LAT_FIELDS, "latitude", path)
    for where, record, position in rows:
        raw_number = str(record.get(number_key) or "").strip()
        street = " ".join(str(record.get(street_key) or "").split())
        if not raw_number or not street:
            continue
        civic = parse_civic(raw_number)
        if civic is None:
            raise AddressFileError(
                f"{path}, {where}: civic number '{raw_number}' is not a valid civic number"
            )
        if position is None:  # a CSV row: its coordinates are in the columns found above
            assert lon_key is not None and lat_key is not None
            position = (record.get(lon_key), record.get(lat_key))
        lon, lat = position
        yield AddressPoint(*civic, street, *_lonlat(lon, lat, f"{path}, {where}"))


def _column(
    columns: list[str], wanted: str | None, usual: tuple[str, ...], what: str, path: Path
) -> str:
    available = ", ".join(columns) or "none"
    if wanted is not None:
        if wanted in columns:
            return wanted
        raise AddressOptionError(f"{path}: no column '{wanted}'; available columns: {available}")
    keys = {_key(column): column for column in reversed(columns)}
    for name in usual:
        if _key(name) in keys:
            return keys[_key(name)]
    raise AddressFileError(
        f"{path}: no {what} column (looked for {', '.join(usual[:5])}, ...); "
        f"available columns: {available}"
    )


def _key(name: str) -> str:
    return "".join(ch for ch in fold(name) if ch.isalnum())


def _lonlat(lon: Any, lat: Any, where: str) -> tuple[float, float]:
    try:
        x = float(str(lon).strip().replace(",", "."))
        y = float(str(lat).strip().replace(",", "."))
    except ValueError as exc:
        raise AddressFileError(f"{where}: coordinates '{lon}', '{lat}' are not numbers") from exc
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise AddressFileError(f"{where}: coordinates {x}, {y} are not longitude/latitude")
    return x, y
