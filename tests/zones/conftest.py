"""Shared fixtures for the zones tests: the real open-data layers, read from ../shared/data."""

from __future__ import annotations

import pytest

from tests.support.shared_data import data_file
from zones import ZoneLayer


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
