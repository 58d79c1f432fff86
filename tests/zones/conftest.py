"""Shared fixtures for the zones tests: the real open-data layers, read from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from zones import ZoneLayer

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def data_file(relative: str) -> Path:
    """Path of a shared data file; skips the calling test when the data folder is absent."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (expected beside the repository)")
    return path


@pytest.fixture(scope="session")
def quebec() -> ZoneLayer:
    return ZoneLayer.from_file(data_file("quebec/vdq-quartier.geojson"))


@pytest.fixture(scope="session")
def toronto() -> ZoneLayer:
    return ZoneLayer.from_file(data_file("toronto/toronto_neighbourhoods.geojson"))


@pytest.fixture(scope="session")
def montreal() -> ZoneLayer:
    return ZoneLayer.from_file(data_file("montreal/limites-administratives-agglomeration.geojson"))


@pytest.fixture(scope="session")
def montreal_mtm() -> ZoneLayer:
    return ZoneLayer.from_file(
        data_file("montreal/limites-administratives-agglomeration-nad83.geojson")
    )
