"""Point lookup against an independent ray-casting reference, snapping and boundary ties."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from tests.support.measurements import record
from tests.support.shared_data import data_file
from tests.zones.reference import near_boundaries, random_points, reference_zones
from zones import ZoneLayer

# Every lon/lat layer of the shared data, the one with invalid polygons included (the
# projected Montréal file is checked against its lon/lat twin in test_layer_loading).
LAYERS = {
    "quebec": "quebec/vdq-quartier.geojson",
    "quebec arrondissements": "quebec/vdq-arrondissement.geojson",
    "toronto": "toronto/toronto_neighbourhoods.geojson",
    "montreal": "montreal/limites-administratives-agglomeration.geojson",
    "montreal quartiers (invalid polygons)": "montreal/quartierreferencehabitation.geojson",
    "montreal quartiers sociologiques": "montreal/quartiers_sociologiques_2014.geojson",
}


@pytest.mark.parametrize("city", sorted(LAYERS))
def test_lookups_agree_with_ray_casting(city: str) -> None:
    path = data_file(LAYERS[city])
    layer = ZoneLayer.from_file(path)
    lon, lat = random_points(layer.bounds, 25_000, seed=7)
    clear = ~near_boundaries(path, lon, lat, metres=1.0)
    expected = reference_zones(path, lon[clear], lat[clear])

    many = layer.locate_many(lon[clear], lat[clear])
    single = np.array(
        [_unsnapped(layer, x, y) for x, y in zip(lon[clear], lat[clear], strict=True)]
    )
    agree_many = float(np.mean(many == expected))
    record(
        "zones", f"{city} locate_many vs ray casting", f"{agree_many:.5%} of {clear.sum()} points"
    )
    assert clear.sum() >= 20_000
    assert agree_many >= 0.999
    assert np.array_equal(single, many)


def test_locate_many_matches_locate_everywhere(quebec: ZoneLayer) -> None:
    lon, lat = random_points(quebec.bounds, 30_000, seed=11)
    many = quebec.locate_many(lon, lat)
    for x, y, got in zip(lon, lat, many, strict=True):
        zone, distance = quebec.locate(x, y)
        if distance == 0.0:
            assert _index(zone) == got
        else:  # snapped or nowhere: locate_many does not snap
            assert got == -1


def test_projected_twin_gives_same_zones(montreal: ZoneLayer, montreal_mtm: ZoneLayer) -> None:
    path = data_file(LAYERS["montreal"])
    lon, lat = random_points(montreal.bounds, 20_000, seed=3)
    clear = ~near_boundaries(path, lon, lat, metres=1.0)
    names_a = [_name(montreal, i) for i in montreal.locate_many(lon[clear], lat[clear])]
    names_b = [_name(montreal_mtm, i) for i in montreal_mtm.locate_many(lon[clear], lat[clear])]
    assert montreal_mtm.report.crs == "EPSG:32188"
    assert names_a == names_b


def test_snaps_within_distance_and_not_beyond(quebec: ZoneLayer) -> None:
    to_mtm = Transformer.from_crs("EPSG:4326", "EPSG:32187", always_xy=True)
    to_lonlat = Transformer.from_crs("EPSG:32187", "EPSG:4326", always_xy=True)
    metric = [
        shapely.transform(z.geometry, lambda c: np.column_stack(to_mtm.transform(*c.T)))
        for z in quebec
    ]
    city = shapely.union_all(metric)
    for offset, expect_zone in ((30.0, True), (80.0, False)):
        grown = shapely.get_parts(city.buffer(offset, quad_segs=8))
        largest = max(grown, key=lambda part: part.area)
        ring = np.asarray(largest.exterior.coords)
        for x, y in ring[:: max(1, len(ring) // 25)][:25]:
            lon, lat = to_lonlat.transform(x, y)
            zone, distance = quebec.locate(lon, lat)
            if not expect_zone:
                assert zone is None and distance == float("inf")
                continue
            assert zone is not None
            assert distance == pytest.approx(30.0, abs=0.3)
            nearest = shapely.distance(np.array(metric, dtype=object), shapely.Point(x, y))
            assert nearest[zone.index] == pytest.approx(nearest.min(), abs=0.3)


def test_shared_boundary_point_resolves_deterministically(quebec: ZoneLayer) -> None:
    checked = 0
    for a in quebec:
        for b in quebec:
            if b.index <= a.index or not a.geometry.touches(b.geometry):
                continue
            shared = shapely.get_coordinates(a.geometry.boundary.intersection(b.geometry.boundary))
            lon, lat = shared[len(shared) // 2]
            covering = [z.index for z in quebec if shapely.intersects_xy(z.geometry, lon, lat)]
            answers = {quebec.locate(lon, lat)[0].index for _ in range(5)}
            many = quebec.locate_many(np.array([lon] * 3), np.array([lat] * 3))
            assert answers == {min(covering)}
            assert set(many.tolist()) == answers
            checked += 1
            if checked == 10:
                return
    assert checked


def test_far_nan_and_out_of_grid_points(quebec: ZoneLayer) -> None:
    assert quebec.locate(0.0, 0.0) == (None, float("inf"))
    assert quebec.locate(float("nan"), 46.8) == (None, float("inf"))
    got = quebec.locate_many(np.array([0.0, np.nan, -71.22]), np.array([0.0, 46.8, 46.81]))
    assert got[:2].tolist() == [-1, -1] and got[2] >= 0


def test_areas_match_superficie(quebec: ZoneLayer) -> None:
    features = json.loads(data_file(LAYERS["quebec"]).read_text(encoding="utf-8"))["features"]
    for zone, feature in zip(quebec, features, strict=True):
        expected = feature["properties"]["SUPERFICIE"] / 1e6
        assert zone.area_km2 == pytest.approx(expected, rel=0.005), zone.name


def test_rebuilt_layer_locates_like_the_original(quebec: ZoneLayer) -> None:
    rebuilt = ZoneLayer.from_geometries([(z.name, z.geometry) for z in quebec], snap_meters=50.0)
    lon, lat = random_points(quebec.bounds, 5_000, seed=5)
    assert np.array_equal(rebuilt.locate_many(lon, lat), quebec.locate_many(lon, lat))
    assert [z.slug for z in rebuilt] == [z.slug for z in quebec]


def _index(zone: object) -> int:
    return -1 if zone is None else zone.index  # type: ignore[attr-defined]


def _unsnapped(layer: ZoneLayer, lon: float, lat: float) -> int:
    """locate() without its snapping: a snapped answer (distance > 0) counts as outside."""
    zone, distance = layer.locate(lon, lat)
    return _index(zone) if distance == 0.0 else -1


def _name(layer: ZoneLayer, index: int) -> str | None:
    return None if index < 0 else layer[index].name


@pytest.mark.parametrize("city", ["quebec", "toronto", "montreal quartiers (invalid polygons)"])
def test_single_lookups_answer_without_the_grid_and_as_the_grid_does(city: str) -> None:
    from zones.layer import TREE_LOOKUPS

    path = data_file(LAYERS[city])
    first, warmed = ZoneLayer.from_file(path), ZoneLayer.from_file(path)
    warmed.locate_many(np.array([0.0]), np.array([0.0]))  # builds warmed's grid
    # Points anywhere, points on the borders and points just outside (snapped or not).
    lon, lat = random_points(first.bounds, TREE_LOOKUPS // 2, seed=11)
    edge = shapely.get_coordinates(shapely.boundary(first.zones[0].geometry))[::7][:200]
    xs = [*lon, *edge[:, 0], *(edge[:, 0] + 0.0003)]
    ys = [*lat, *edge[:, 1], *(edge[:, 1] - 0.0002)]
    for x, y in list(zip(xs, ys, strict=True))[:TREE_LOOKUPS]:
        by_tree, by_grid = first.locate(x, y), warmed.locate(x, y)
        assert (by_tree[0] and by_tree[0].index) == (by_grid[0] and by_grid[0].index), (x, y)
        assert by_tree[1] == pytest.approx(by_grid[1]), (x, y)
    assert "_grid" not in first.__dict__  # a command's lookup never paid for the grid
