"""Zone names are data, not markup: every public document stays well-formed whatever the
names in the database hold (control characters, markup), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import feedparser
import pytest
import xmlschema
from fastapi.testclient import TestClient
from lxml import etree

from alerts.public.xml_text import xml_text
from alerts.wiring import Services
from tests.support import hostile
from tests.support.public import CAP_SCHEMA, NOW, add_alert, add_operation

NAMES = [hostile.MARKUP, hostile.CLOSING, hostile.BELL, hostile.ESCAPE, hostile.FORMULA,
         hostile.NUL]  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(CAP_SCHEMA))


@pytest.fixture(params=NAMES, ids=repr)
def name(request: pytest.FixtureRequest, database_url: str) -> str:
    if request.param not in hostile.names_for(database_url):
        pytest.skip("PostgreSQL text cannot hold NUL")
    return str(request.param)


@pytest.fixture
def alert_id(public_town: Services, name: str) -> int:
    """Saint-Éloi renamed in the database, an alert and an operation on it."""
    hostile.rename_zone(public_town, "Saint-Éloi", name)
    add_operation(public_town, zones=(name,), start_at=NOW, end_at=NOW.replace(hour=23))
    return add_alert(public_town, zones=(name, "Lac-Doré"), text_fr=f"Déneigement: {name}")


def test_the_atom_feed_is_well_formed_xml(client: TestClient, alert_id: int, name: str) -> None:
    response = client.get("/alerts.atom")
    assert response.status_code == 200
    etree.fromstring(response.content)  # strict: raises on any ill-formed byte
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    labels = {tag.label for entry in parsed.entries for tag in entry.tags}
    assert xml_text(name) in labels  # the name is there, only its illegal characters gone


def test_the_cap_document_is_well_formed_and_valid(
    client: TestClient, alert_id: int, name: str, schema: xmlschema.XMLSchema
) -> None:
    response = client.get(f"/alerts/{alert_id}.cap.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    schema.validate(root)
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    areas = [el.text or "" for el in root.iterfind(".//cap:areaDesc", ns)]
    assert any(xml_text(name) in area for area in areas), areas


def test_pages_and_geojson_answer(client: TestClient, alert_id: int, name: str) -> None:
    for path in ("/", "/en"):
        response = client.get(path)
        assert response.status_code == 200, path
    for path in ("/zones.geojson", "/alerts.geojson"):
        response = client.get(path)
        assert response.status_code == 200, path
        document = json.loads(response.content)
        assert document["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in client.get("/zones.geojson").json()["features"]}
    assert name in names  # JSON holds any character, escaped


def test_xml_text_keeps_what_xml_allows() -> None:
    kept = "Côte-Blanche\t— 雪 \U0001f328\n"
    assert xml_text(kept) == kept
    assert xml_text("a\x00b\x07c\x1bd\x7fe\x85f\ufffeg\ud800h") == "abcdefgh"
