"""Fixtures of the public page and feed tests: a hand-moved clock, the public town, a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from alerts.config import Settings
from alerts.web.app import create_app
from alerts.wiring import Services
from tests.support.public import Clock, public_services


@pytest.fixture
def clock() -> Clock:
    """The public town's clock, at NOW until a test moves it."""
    return Clock()


@pytest.fixture
def public_town(settings: Settings, clock: Clock) -> Iterator[Services]:
    """The demo town with its public URL set, on the hand-moved clock."""
    services = public_services(settings, clock)
    yield services
    services.close()


@pytest.fixture
def client(public_town: Services) -> Iterator[TestClient]:
    """A client of the web app of the public town."""
    with TestClient(create_app(public_town)) as test_client:
        yield test_client
