"""CAP 1.2 documents: valid against the OASIS schema, Alert, Update and Cancel, areas in lat,lon."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta

import pytest
import shapely
import xmlschema
from fastapi.testclient import TestClient
from shapely.geometry import Polygon, mapping

from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.public.alert_areas import CAP_MAX_POINTS, cap_polygons
from alerts.sending.cancelling import cancel_alert
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.web.app import create_app
from alerts.wiring import Services
from tests.support.public import (
    CAP_SCHEMA,
    NOW,
    Clock,
    add_alert,
    add_operation,
    public_services,
    zone_ids,
)

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
SENDER = "alertes.val-givre.example"
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(CAP_SCHEMA))


@pytest.fixture
def cap_town(settings: Settings) -> Iterator[Services]:
    """The public town with a CAP sender of its own."""
    services = public_services(settings, Clock(), **{"service.cap_sender": SENDER})
    yield services
    services.close()


@pytest.fixture
def cap_client(cap_town: Services) -> Iterator[TestClient]:
    with TestClient(create_app(cap_town)) as test_client:
        yield test_client


def fetch(client: TestClient, schema: xmlschema.XMLSchema, alert_id: int) -> ET.Element:
    """The CAP document of an alert, after checking it against the OASIS schema."""
    response = client.get(f"/alerts/{alert_id}.cap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/cap+xml"
    schema.validate(response.content)  # raises with the first violation
    return ET.fromstring(response.content)


def text(element: ET.Element, path: str) -> str:
    found = element.find(path, NS)
    assert found is not None and found.text is not None, path
    return found.text


def ring(value: str) -> Polygon:
    """A CAP polygon value read back into lon/lat."""
    pairs = [tuple(map(float, pair.split(","))) for pair in value.split()]
    assert pairs[0] == pairs[-1] and len(pairs) >= 4
    return Polygon([(lon, lat) for lat, lon in pairs])


def test_an_alert_to_zones_is_a_valid_cap_alert_in_both_languages(
    cap_town: Services, cap_client: TestClient, schema: xmlschema.XMLSchema
) -> None:
    alert_id = add_alert(cap_town, zones=("Saint-Éloi", "Lac-Doré"), urgent=True)
    document = fetch(cap_client, schema, alert_id)
    assert text(document, "cap:identifier") == f"{SENDER}:alert:{alert_id}"
    assert text(document, "cap:sender") == SENDER
    assert text(document, "cap:sent") == "2026-12-03T16:00:00-05:00"
    assert (text(document, "cap:status"), text(document, "cap:msgType")) == ("Actual", "Alert")
    assert text(document, "cap:scope") == "Public"
    infos = document.findall("cap:info", NS)
    assert [text(info, "cap:language") for info in infos] == ["fr-CA", "en-CA"]
    french, english = infos
    assert text(french, "cap:event") == "Opération de déneigement"
    assert text(english, "cap:event") == "Snow removal operation"
    assert text(french, "cap:category") == "Transport"
    assert (text(french, "cap:urgency"), text(french, "cap:severity")) == ("Immediate", "Moderate")
    assert text(french, "cap:description").startswith("Déneigement ce soir")
    assert text(english, "cap:description").startswith("Snow removal tonight")
    assert text(french, "cap:expires") == "2026-12-04T16:00:00-05:00"
    assert text(french, "cap:area/cap:areaDesc") == "Saint-Éloi et Lac-Doré"
    assert text(english, "cap:area/cap:areaDesc") == "Saint-Éloi and Lac-Doré"
    polygons = [ring(p.text or "") for p in french.findall("cap:area/cap:polygon", NS)]
    assert polygons and all(len(p.exterior.coords) <= CAP_MAX_POINTS for p in polygons)
    layer = cap_town.zones.stored().layer
    union = layer.by_name("Saint-Éloi").geometry.union(layer.by_name("Lac-Doré").geometry)
    announced = shapely.union_all(polygons)
    # The announced area covers the target (up to the five-decimal rounding).
    assert union.difference(announced.buffer(1e-5)).area == pytest.approx(0, abs=1e-12)


def test_a_correction_is_an_update_referencing_the_alert_it_corrects(
    cap_town: Services, cap_client: TestClient, schema: xmlschema.XMLSchema
) -> None:
    original = add_alert(cap_town, zones=("Côte-Blanche",))
    fixed = cancel_alert(cap_town, original, notify="Correction: déneigement demain, pas ce soir.")
    assert fixed.correction_id is not None
    document = fetch(cap_client, schema, fixed.correction_id)
    assert text(document, "cap:msgType") == "Update"
    assert text(document, "cap:references") == (
        f"{SENDER},{SENDER}:alert:{original},2026-12-03T16:00:00-05:00"
    )
    info = document.find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:headline").startswith("Correction")
    assert text(info, "cap:area/cap:areaDesc") == "Côte-Blanche"  # the original's area
    assert text(fetch(cap_client, schema, original), "cap:msgType") == "Alert"


def test_a_cancelled_alert_becomes_a_cancel_message(
    cap_town: Services, cap_client: TestClient, schema: xmlschema.XMLSchema
) -> None:
    alert_id = add_alert(cap_town, zones=("Les Érables",), state="queued", created_at=NOW - HOUR)
    cancel_alert(cap_town, alert_id)
    document = fetch(cap_client, schema, alert_id)
    assert text(document, "cap:msgType") == "Cancel"
    assert text(document, "cap:identifier") == f"{SENDER}:alert:{alert_id}:cancel"
    assert text(document, "cap:sent") == "2026-12-03T16:00:00-05:00"  # when it was cancelled
    assert text(document, "cap:references") == (
        f"{SENDER},{SENDER}:alert:{alert_id},2026-12-03T15:00:00-05:00"
    )


def test_exercise_alerts_and_their_corrections_say_exercise(
    settings: Settings, schema: xmlschema.XMLSchema
) -> None:
    services = public_services(settings, Clock(), **{"service.exercise": True})
    try:
        queued = send_alert(
            services,
            AlertRequest("snow", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Exercice")),
        )
        fixed = cancel_alert(services, queued.alert_id, notify="Fin de l'exercice.")
        with TestClient(create_app(services)) as client:
            for alert_id in (queued.alert_id, fixed.correction_id):
                assert alert_id is not None
                assert text(fetch(client, schema, alert_id), "cap:status") == "Exercise"
    finally:
        services.close()


def test_a_radius_target_has_its_circle_and_an_operation_notice_its_window(
    cap_town: Services, cap_client: TestClient, schema: xmlschema.XMLSchema
) -> None:
    circle = cap_town.zones.stored().layer.circle(-71.35, 47.05, 250.0)
    near = add_alert(
        cap_town,
        kind="radar",
        target={"kind": "near", "lat": 47.05, "lon": -71.35, "radius_m": 250.0,
                "zone_ids": zone_ids(cap_town, "Saint-Éloi"), "zones": [],
                "geometry": mapping(circle)},
    )  # fmt: skip
    document = fetch(cap_client, schema, near)
    assert text(document, "cap:info/cap:area/cap:circle") == "47.05000,-71.35000 0.25"
    assert text(document, "cap:info/cap:category") == "Transport"
    notice = add_alert(cap_town, zones=("Lac-Doré",), created_at=NOW - HOUR)
    add_operation(
        cap_town, zones=("Lac-Doré",), start_at=NOW + 3 * HOUR, end_at=NOW + 11 * HOUR,
        notice_alert=notice,
    )  # fmt: skip
    info = fetch(cap_client, schema, notice).find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:onset") == "2026-12-03T19:00:00-05:00"
    assert text(info, "cap:expires") == "2026-12-04T03:00:00-05:00"
    assert text(info, "cap:urgency") == "Future"


def test_unknown_and_failed_alerts_have_no_document(
    cap_town: Services, cap_client: TestClient
) -> None:
    failed = add_alert(cap_town, state="failed")
    assert cap_client.get(f"/alerts/{failed}.cap.xml").status_code == 404
    assert cap_client.get("/alerts/999999.cap.xml").status_code == 404


def test_cap_polygons_are_closed_lat_lon_rings_of_bounded_size() -> None:
    # A jagged shape of 2,000 vertices around Québec City.
    angles = [i * 2 * math.pi / 2000 for i in range(2000)]
    points = [
        (-71.21 + (0.02 + 0.002 * (i % 2)) * math.cos(a), 46.81 + 0.014 * math.sin(a))
        for i, a in enumerate(angles)
    ]
    jagged = Polygon(points)
    values = cap_polygons(shapely.MultiPolygon([jagged, shapely.box(-71.1, 46.9, -71.09, 46.91)]))
    assert len(values) == 2
    for value in values:
        polygon = ring(value)
        assert 4 <= len(polygon.exterior.coords) <= CAP_MAX_POINTS
        assert 46 < polygon.exterior.coords[0][1] < 47  # latitude first in the text
    assert jagged.difference(ring(values[0]).buffer(1e-5)).area == pytest.approx(0, abs=1e-12)
