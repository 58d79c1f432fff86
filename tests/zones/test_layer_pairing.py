"""Matching a new layer's zones to the stored ones by name and position (pure, no database)."""

from __future__ import annotations

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from tests.support.shared_data import data_file
from zones import ZoneLayer
from zones.layer import pair_zones

A = box(0.0, 0.0, 1.0, 1.0)
B = box(1.0, 0.0, 2.0, 1.0)
C = box(2.0, 0.0, 3.0, 1.0)


def _earlier(layer: ZoneLayer) -> list[tuple[str, BaseGeometry]]:
    return [(zone.name, zone.geometry) for zone in layer]


def test_the_same_file_with_repeated_names_pairs_one_for_one() -> None:
    path = data_file("montreal/quartierreferencehabitation.geojson")
    layer = ZoneLayer.from_file(path, name_field="nom_arr")
    assert len({zone.name for zone in layer}) < len(layer)
    again = ZoneLayer.from_file(path, name_field="nom_arr")
    pairing = pair_zones(_earlier(layer), again)
    assert pairing.previous == tuple(range(len(layer)))
    assert (pairing.removed, pairing.reshaped, pairing.renamed, pairing.added) == ((), (), (), ())


def test_the_same_outline_is_recognised_whatever_its_ring_order() -> None:
    earlier = [("A", box(0.0, 0.0, 1.0, 1.0, ccw=False))]
    pairing = pair_zones(earlier, ZoneLayer.from_geometries([("A", A)]))
    assert pairing.previous == (0,) and pairing.reshaped == ()


def test_repeated_names_pair_by_position_when_outlines_change() -> None:
    earlier = [("Centre", A), ("Centre", C)]
    moved = [("Centre", box(2.0, 0.0, 3.1, 1.0)), ("Centre", box(0.0, 0.0, 1.1, 1.0))]
    pairing = pair_zones(earlier, ZoneLayer.from_geometries(moved))
    assert pairing.previous == (1, 0) and sorted(pairing.reshaped) == [0, 1]


def test_renamed_added_and_removed() -> None:
    earlier = [("A", A), ("B", B), ("Gone", box(10.0, 10.0, 11.0, 11.0))]
    new = ZoneLayer.from_geometries([("A", A), ("Bee", box(1.0, 0.0, 2.05, 1.0)), ("C", C)])
    pairing = pair_zones(earlier, new)
    assert pairing.previous == (0, 1, None)
    assert (pairing.renamed, pairing.added, pairing.removed) == ((1,), (2,), (2,))


def test_another_name_on_a_different_outline_is_no_rename() -> None:
    earlier = [("B", B)]
    half = ZoneLayer.from_geometries([("Other", box(1.0, 0.0, 1.5, 1.0))])
    pairing = pair_zones(earlier, half)
    assert pairing.previous == (None,) and pairing.removed == (0,)
