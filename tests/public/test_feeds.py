"""Open data over HTTP: the Atom feed, alerts and zones as GeoJSON, and conditional GETs."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from alerts.sending.cancelling import cancel_alert
from alerts.wiring import Services
from tests.support.dispatch import bulk_subscribers
from tests.support.public import NOW, Clock, add_alert, add_operation, zone_ids

HOUR = timedelta(hours=1)
BASE = "https://alertes.example.org"


def seed(public_town: Services) -> dict[str, int]:
    """A zone alert, a radius alert, a drawn area, an operation notice and a cancelled one."""
    area = shapely.box(-71.36, 47.04, -71.34, 47.05)
    ids = {
        "zones": add_alert(public_town, zones=("Saint-Éloi", "Lac-Doré"), created_at=NOW - HOUR),
        "near": add_alert(
            public_town,
            kind="radar",
            target={
                "kind": "near",
                "lat": 47.05,
                "lon": -71.35,
                "radius_m": 300.0,
                "zone_ids": zone_ids(public_town, "Saint-Éloi"),
                "zones": [],
                "geometry": shapely.geometry.mapping(
                    public_town.zones.stored().layer.circle(-71.35, 47.05, 300.0)
                ),
            },
            text_fr="Photoradar rue Principale demain.",
            text_en="Photo radar on Principale Street tomorrow.",
        ),
        "area": add_alert(
            public_town,
            kind="info",
            target={
                "kind": "area",
                "file": "secteur.geojson",
                "zone_ids": [],
                "zones": [],
                "geometry": shapely.geometry.mapping(area),
            },
        ),
        "notice": add_alert(public_town, zones=("Côte-Blanche",), created_at=NOW - 2 * HOUR),
        "cancelled": add_alert(public_town, zones=("Les Érables",), state="queued"),
    }
    add_operation(
        public_town, zones=("Côte-Blanche",), start_at=NOW + HOUR, end_at=NOW + 9 * HOUR,
        notice_alert=ids["notice"],
    )  # fmt: skip
    cancel_alert(public_town, ids["cancelled"])
    return ids


def test_the_atom_feed_parses_and_carries_both_languages_and_cap_links(
    public_town: Services, client: TestClient
) -> None:
    ids = seed(public_town)
    response = client.get("/alerts.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert len(feed.entries) == 5
    entries = {entry.id: entry for entry in feed.entries}
    entry = entries[f"{BASE}/alerts/{ids['zones']}.cap.xml"]
    assert "Déneigement — Saint-Éloi et Lac-Doré" in entry.title
    assert "Snow removal — Saint-Éloi and Lac-Doré" in entry.title
    content = entry.content[0].value
    assert "Déneigement ce soir dès 19 h" in content and "Snow removal tonight" in content
    cap = [link.href for link in entry.links if link.type == "application/cap+xml"]
    assert cap == [f"{BASE}/alerts/{ids['zones']}.cap.xml"]
    assert {tag.term for tag in entry.tags} == {"snow", "saint-eloi", "lac-dore"}
    notice = entries[f"{BASE}/alerts/{ids['notice']}.cap.xml"].content[0].value
    assert "jeudi 3 décembre, de 17 h à 1 h" not in notice  # crosses midnight: both days said
    assert "du jeudi 3 décembre à 17 h au vendredi 4 décembre à 1 h" in notice
    cancelled = entries[f"{BASE}/alerts/{ids['cancelled']}.cap.xml"]
    assert cancelled.title.startswith("Annulé")


def test_alerts_geojson_has_valid_areas_for_active_alerts_only(
    public_town: Services, client: TestClient
) -> None:
    ids = seed(public_town)
    add_alert(public_town, created_at=NOW - timedelta(days=2))  # past: not on the map
    response = client.get("/alerts.geojson")
    assert response.headers["content-type"] == "application/geo+json"
    document = json.loads(response.content)
    assert document["type"] == "FeatureCollection"
    by_id = {feature["id"]: feature for feature in document["features"]}
    assert set(by_id) == {ids["zones"], ids["near"], ids["area"], ids["notice"]}
    for feature in document["features"]:
        geometry = shape(feature["geometry"])
        assert geometry.is_valid and not geometry.is_empty
    layer = public_town.zones.stored().layer
    union = layer.by_name("Saint-Éloi").geometry.union(layer.by_name("Lac-Doré").geometry)
    zones = shape(by_id[ids["zones"]]["geometry"])
    assert zones.symmetric_difference(union).area < 0.01 * union.area
    near = by_id[ids["near"]]
    assert near["properties"]["center"] == [-71.35, 47.05]
    assert shape(near["geometry"]).contains(shapely.Point(-71.35, 47.05))
    notice = by_id[ids["notice"]]["properties"]
    assert notice["status"] == "upcoming"
    assert notice["onset"] == "2026-12-03T17:00:00-05:00"
    assert notice["expires"] == "2026-12-04T01:00:00-05:00"
    assert by_id[ids["zones"]]["properties"]["status"] == "current"


def test_zones_geojson_publishes_only_coarse_subscriber_counts(
    public_town: Services, client: TestClient
) -> None:
    eloi, lac = zone_ids(public_town, "Saint-Éloi", "Lac-Doré")
    bulk_subscribers(public_town, range(0, 27), eloi)
    bulk_subscribers(public_town, range(100, 103), lac)
    bulk_subscribers(public_town, range(200, 210), lac, status="opted_out")
    document = json.loads(client.get("/zones.geojson").content)
    assert len(document["features"]) == 10
    counts = {f["properties"]["name"]: f["properties"]["subscribers"] for f in document["features"]}
    assert counts["Saint-Éloi"] == 20  # rounded down to a multiple of ten
    assert counts["Lac-Doré"] == "<10"  # opted-out numbers are not counted
    assert counts["Côte-Blanche"] == "<10"
    for feature in document["features"]:
        assert shape(feature["geometry"]).is_valid
    before = client.get("/zones.geojson").headers["etag"]
    bulk_subscribers(public_town, range(300, 307), lac)
    after = client.get("/zones.geojson")
    assert after.headers["etag"] != before
    counts = {
        f["properties"]["name"]: f["properties"]["subscribers"] for f in after.json()["features"]
    }
    assert counts["Lac-Doré"] == 10


def test_padding_a_zone_does_not_reveal_its_subscribers(
    public_town: Services, client: TestClient
) -> None:
    """Four numbers of one's own beside one resident: with an exact count from five up, the
    count minus four was the residents'. Every published figure is "<10" or a multiple of 10,
    and a subscriber more or less that leaves it as it is leaves the document as it is."""
    (lac,) = zone_ids(public_town, "Lac-Doré")
    bulk_subscribers(public_town, range(0, 1), lac)  # the resident
    bulk_subscribers(public_town, range(500, 504), lac)  # the padding

    def published() -> tuple[object, str]:
        response = client.get("/zones.geojson")
        by_name = {f["properties"]["name"]: f for f in response.json()["features"]}
        return by_name["Lac-Doré"]["properties"]["subscribers"], response.headers["etag"]

    shown, etag = published()
    assert shown == "<10"
    bulk_subscribers(public_town, range(1, 3), lac)  # two more residents
    assert published() == (shown, etag)
    seen = set()
    for start in range(600, 660, 7):
        bulk_subscribers(public_town, range(start, start + 7), lac)
        seen.add(published()[0])
    assert all(value == "<10" or (isinstance(value, int) and value % 10 == 0) for value in seen)


@pytest.mark.parametrize("path", ["/alerts.atom", "/alerts.geojson", "/zones.geojson", "/"])
def test_conditional_requests_get_304_until_something_changes(
    public_town: Services, client: TestClient, clock: Clock, path: str
) -> None:
    seed(public_town)
    first = client.get(path)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.content == b"" and not_modified.headers["etag"] == etag
    # An If-None-Match that does not match wins over a current If-Modified-Since.
    stale = client.get(path, headers={"If-None-Match": '"other"', "If-Modified-Since": modified})
    assert stale.status_code == 200
    clock.advance(minutes=1)
    add_alert(public_town, zones=("Châtelet-Nord",), created_at=clock.now)
    add_operation(public_town, zones=("Châtelet-Nord",), start_at=NOW, end_at=NOW + HOUR)
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 200


def test_a_notice_changing_phase_changes_the_feed_without_any_write(
    public_town: Services, client: TestClient, clock: Clock
) -> None:
    add_operation(public_town, zones=("Lac-Doré",), start_at=NOW + HOUR, end_at=NOW + 2 * HOUR)
    first = client.get("/")
    assert "Opération ou avis à venir" in first.text
    clock.advance(hours=1, minutes=1)
    second = client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    assert "Opération en cours" in second.text
