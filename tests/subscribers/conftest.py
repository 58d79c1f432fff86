"""Fixtures of the subscriber tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from alerts.wiring import Services


@pytest.fixture
def town(services: Services) -> Services:
    """Services with the demo town's layer and addresses imported."""
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
    from alerts.places.layers import import_addresses, import_zones

    import_zones(services, str(DEMO_LAYER))
    import_addresses(services, DEMO_ADDRESSES)
    return services
