"""Loading layers: real files with their counts, repairs, CRS handling, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Polygon, box, mapping

from tests.support.shared_data import data_file
from zones import AmbiguousZone, LayerError, ZoneLayer

REAL_LAYERS = [
    ("quebec/vdq-quartier.geojson", 35, 0),
    ("quebec/vdq-arrondissement.geojson", 6, 0),
    ("montreal/limites-administratives-agglomeration.geojson", 34, 0),
    ("montreal/limites-administratives-agglomeration-nad83.geojson", 34, 0),
    ("montreal/quartierreferencehabitation.geojson", 91, 6),
    ("montreal/quartiers_sociologiques_2014.geojson", 32, 1),
    ("toronto/toronto_neighbourhoods.geojson", 158, 0),
]


@pytest.mark.parametrize(("relative", "count", "repaired"), REAL_LAYERS)
def test_real_layers_import_with_expected_counts(relative: str, count: int, repaired: int) -> None:
    layer = ZoneLayer.from_file(data_file(relative))
    assert (len(layer), layer.report.imported, layer.report.repaired) == (count, count, repaired)
    assert layer.report.skipped == 0
    assert all(z.geometry.is_valid and z.geometry.area > 0 for z in layer)
    assert len({z.slug for z in layer}) == count


def test_name_fields_found_automatically() -> None:
    sociological = ZoneLayer.from_file(data_file("montreal/quartiers_sociologiques_2014.geojson"))
    assert "Saint-Henri" in [z.name for z in sociological]
    toronto = ZoneLayer.from_file(data_file("toronto/toronto_neighbourhoods.geojson"))
    assert "South Eglinton-Davisville" in [z.name for z in toronto]


def test_repaired_geometry_keeps_its_area() -> None:
    raw = json.loads(data_file("montreal/quartiers_sociologiques_2014.geojson").read_text())
    layer = ZoneLayer.from_geojson(raw)
    henri = layer.by_name("Saint-Henri")
    assert henri.geometry.is_valid and henri.area_km2 > 1.0


def _collection(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def _feature(name: str | None, geometry: Any, field: str = "NOM") -> dict[str, Any]:
    geometry = geometry if isinstance(geometry, dict) else mapping(geometry)
    return {"type": "Feature", "properties": {field: name}, "geometry": geometry}


SQUARE_A = box(-71.30, 46.80, -71.20, 46.90)
SQUARE_B = box(-71.20, 46.80, -71.10, 46.90)


def test_invalid_polygons_are_repaired_and_empty_ones_dropped() -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[-71, 46], [-70, 47], [-70, 46], [-71, 47], [-71, 46]]],
    }
    short_ring = {
        "type": "Polygon",
        "coordinates": [
            [[-72, 46], [-71.5, 46], [-71.5, 46.5], [-72, 46]],
            [[-71.9, 46.1], [-71.8, 46.1]],
        ],
    }
    flat = {"type": "Polygon", "coordinates": [[[-73, 46], [-72.5, 46], [-72, 46], [-73, 46]]]}
    layer = ZoneLayer.from_geojson(
        _collection(_feature("Bow", bow_tie), _feature("Short", short_ring), _feature("Flat", flat))
    )
    assert [z.name for z in layer] == ["Bow", "Short"]
    assert (layer.report.repaired, layer.report.skipped) == (2, 1)
    assert any("'Flat'" in w and "dropped" in w for w in layer.report.warnings)
    assert layer.by_name("Bow").geometry.area == pytest.approx(0.5)


def test_ring_orientation_does_not_matter() -> None:
    clockwise = Polygon(list(SQUARE_A.exterior.coords)[::-1])
    layer = ZoneLayer.from_geojson(_collection(_feature("A", clockwise), _feature("B", SQUARE_B)))
    assert layer.locate(-71.25, 46.85)[0].name == "A"
    assert layer[0].area_km2 == pytest.approx(layer[1].area_km2, rel=0.01)


def test_other_geometries_are_skipped_and_counted() -> None:
    point = {"type": "Point", "coordinates": [-71.2, 46.8]}
    layer = ZoneLayer.from_geojson(_collection(_feature("A", SQUARE_A), _feature("P", point)))
    assert (layer.report.imported, layer.report.skipped) == (1, 1)


def test_duplicate_names_stay_distinct_with_unique_slugs() -> None:
    layer = ZoneLayer.from_geojson(
        _collection(_feature("Centre", SQUARE_A), _feature("Centre", SQUARE_B))
    )
    assert [z.slug for z in layer] == ["centre", "centre-2"]
    assert any("kept apart" in w for w in layer.report.warnings)
    with pytest.raises(AmbiguousZone):
        layer.find("centre")
    assert layer.by_slug("centre-2").index == 1


def test_crs_member_and_argument_reproject() -> None:
    # MTM zone 7 metres (EPSG:32187) around Quebec City.
    square = box(240_000, 5_185_000, 250_000, 5_195_000)
    for crs_name in ("EPSG:32187", "urn:ogc:def:crs:EPSG::32187"):
        crs = {"type": "name", "properties": {"name": crs_name}}
        layer = ZoneLayer.from_geojson(_collection(_feature("Z", square), crs=crs))
        assert layer.report.crs == "EPSG:32187"
        minx, miny, maxx, maxy = layer.bounds
        assert -72 < minx < maxx < -71 and 46 < miny < maxy < 47.5
        assert layer[0].area_km2 == pytest.approx(100.0, rel=0.002)
    plain = ZoneLayer.from_geojson(_collection(_feature("Z", square)), crs="EPSG:32187")
    assert plain.bounds == pytest.approx(layer.bounds)


def test_lon_lat_crs_members_are_accepted() -> None:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    layer = ZoneLayer.from_geojson(_collection(_feature("A", SQUARE_A), crs=crs))
    assert layer.bounds == pytest.approx(SQUARE_A.bounds)


def _error(tmp_path: Path, content: str | bytes, **kwargs: Any) -> LayerError:
    path = tmp_path / "layer.geojson"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(LayerError) as caught:
        ZoneLayer.from_file(path, **kwargs)
    message = caught.value.message
    assert "\n" not in message and str(caught.value) == message
    return caught.value


def test_broken_json(tmp_path: Path) -> None:
    error = _error(tmp_path, '{"type": "FeatureCollection", "features": [')
    assert "layer.geojson" in error.message and "not valid JSON" in error.message


def test_empty_collection(tmp_path: Path) -> None:
    assert "no features" in _error(tmp_path, json.dumps(_collection())).message


def test_only_points(tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [-71.2, 46.8]}
    error = _error(tmp_path, json.dumps(_collection(_feature("P", point), _feature("Q", point))))
    assert "no Polygon or MultiPolygon features (found 2 Point)" in error.message


def test_missing_name_field(tmp_path: Path) -> None:
    content = json.dumps(_collection(_feature("A", SQUARE_A)))
    error = _error(tmp_path, content, name_field="QUARTIER")
    assert "no field 'QUARTIER'" in error.message and "available fields: NOM" in error.message
    nameless = json.dumps(_collection(_feature("A", SQUARE_A, field="CODE")))
    assert "no usable name field" in _error(tmp_path, nameless).message


def test_projected_coordinates_without_crs(tmp_path: Path) -> None:
    content = json.dumps(_collection(_feature("Z", box(240_000, 5_185_000, 250_000, 5_195_000))))
    error = _error(tmp_path, content)
    assert "look projected" in error.message and "--crs EPSG:" in error.message


def test_unknown_crs(tmp_path: Path) -> None:
    crs = {"type": "name", "properties": {"name": "EPSG:999999"}}
    error = _error(tmp_path, json.dumps(_collection(_feature("A", SQUARE_A), crs=crs)))
    assert "unknown coordinate system 'EPSG:999999'" in error.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="no such file"):
        ZoneLayer.from_file(tmp_path / "absent.geojson")
