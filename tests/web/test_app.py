"""The app's routes answer a path naming no row with 404, whatever number it names."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alerts.web.app import create_app
from alerts.wiring import Services


@pytest.mark.parametrize(
    "alert_id",
    [
        "99999999999999999999",  # beyond 64 bits
        str(2**63),
        str(2**63 - 1),  # within SQLite's integers, beyond PostgreSQL's
        str(2**31),
        "-99999999999999999999",
        "abc",
        "1e3",
        "٣",  # a digit, but not an ASCII one
    ],
)
def test_alert_ids_out_of_range_are_not_found(app_services: Services, alert_id: str) -> None:
    with TestClient(create_app(app_services), raise_server_exceptions=False) as client:
        response = client.get(f"/alerts/{alert_id}.cap.xml")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/plain")
        assert client.get("/alerts/1.cap.xml").status_code == 404  # a plain unknown id
        assert client.get("/health").status_code == 200
