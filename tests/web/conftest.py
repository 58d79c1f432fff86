"""Fixtures of the web tests: the webhook's services and a client of the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from alerts.config import Settings
from alerts.web.app import create_app
from alerts.wiring import Services, build
from tests.support.webhooks import PUBLIC, TOKEN


@pytest.fixture
def app_services(settings: Settings) -> Iterator[Services]:
    """The demo town with the Twilio auth token and the public URL the webhooks check."""
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
    from alerts.places.layers import import_addresses, import_zones

    wired = build(
        settings.with_overrides(**{"twilio.auth_token": TOKEN, "service.public_url": PUBLIC})
    )
    import_zones(wired, str(DEMO_LAYER))
    import_addresses(wired, DEMO_ADDRESSES)
    yield wired
    wired.close()


@pytest.fixture
def client(app_services: Services) -> Iterator[TestClient]:
    """A client of the app on an internal address, as behind a proxy (Twilio signs PUBLIC)."""
    with TestClient(create_app(app_services), base_url="http://internal:8000") as test_client:
        yield test_client
