"""Layer files read within bounds, and zone names cleaned of control characters."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import box, mapping

from zones import LayerError, ZoneLayer
from zones.names import clean_name


def test_dev_zero_stops_at_the_cap() -> None:
    with pytest.raises(LayerError, match=r"/dev/zero: larger than 65,536 bytes"):
        ZoneLayer.from_file("/dev/zero", max_bytes=65_536)


def test_nesting_deeper_than_the_stack(tmp_path: Path) -> None:
    nested = tmp_path / "nested.geojson"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LayerError, match="nested too deeply"):
        ZoneLayer.from_file(nested)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Saint-Roch", "Saint-Roch"),
        ("  Saint\t Roch\n", "Saint Roch"),
        ("Évil\x07 Nord", "Évil Nord"),
        ("Évil\x1b[2J Nord", "Évil[2J Nord"),
        ("Évil\x00Nord\x7f", "ÉvilNord"),
        ("C1\x85\x9b\x9f", "C1"),
        ("Lone\ud800 surrogate\uffff", "Lone surrogate"),
        ("Vieux-Québec—Cap-Blanc", "Vieux-Québec—Cap-Blanc"),
    ],
)
def test_names_lose_control_characters(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_a_name_of_control_characters_only_gets_a_number() -> None:
    features = [
        {"type": "Feature", "properties": {"NOM": name}, "geometry": mapping(box(n, 0, n + 1, 1))}
        for n, name in enumerate(("\x07\x1b", "Bell\x07"))
    ]
    layer = ZoneLayer.from_geojson({"type": "FeatureCollection", "features": features})
    assert [zone.name for zone in layer] == ["Zone 1", "Bell"]
