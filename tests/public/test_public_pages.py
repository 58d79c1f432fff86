"""The public page: French first, English on request, the map, zone pages, how to subscribe."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from alerts.config import Settings
from alerts.public.public_wording import preferred_language
from alerts.web.app import create_app
from alerts.wiring import Services
from tests.support.public import NOW, Clock, add_alert, add_operation, public_services

HOUR = timedelta(hours=1)
NUMBER = "418 555-0100"


class Page(HTMLParser):
    """What the tests look at in a page: title, lang, links, map links and outside URLs."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lang = ""
        self.title = ""
        self.links: list[str] = []
        self.map_links: list[str] = []
        self.sources: list[str] = []
        self.scripts = 0
        self._in_title = False
        self._in_svg = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if tag == "title" and not self._in_svg:
            self._in_title = True
        if tag == "svg":
            self._in_svg += 1
        if tag == "script":
            self.scripts += 1
        if tag == "a" and found.get("href"):
            (self.map_links if self._in_svg else self.links).append(found["href"] or "")
        for name in ("src", "href"):
            if found.get(name) and tag not in ("a",):
                self.sources.append(found[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "svg":
            self._in_svg -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


@pytest.fixture
def seeded_town(settings: Settings) -> Iterator[Services]:
    """The public town with its SMS number, an alert of today and of two days ago, an
    operation under way and one tomorrow."""
    services = public_services(settings, Clock(), **{"service.sms_number": NUMBER})
    add_alert(services, zones=("Saint-Éloi",), created_at=NOW - HOUR)
    add_operation(services, zones=("Lac-Doré",), start_at=NOW - HOUR, end_at=NOW + 7 * HOUR)
    add_operation(
        services, zones=("Côte-Blanche",), start_at=NOW + 20 * HOUR, end_at=NOW + 30 * HOUR
    )
    add_alert(services, zones=("Saint-Éloi",), created_at=NOW - timedelta(days=2),
              text_fr="Avis d'avant-hier.", text_en="Notice from two days ago.")  # fmt: skip
    yield services
    services.close()


@pytest.fixture
def seeded_client(seeded_town: Services) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_town)) as test_client:
        yield test_client


def test_the_page_is_french_by_default_with_the_map_and_a_text_equivalent(
    seeded_client: TestClient,
) -> None:
    response = seeded_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "accept-language" in response.headers["vary"].lower()
    page = Page(response.text)
    assert page.lang == "fr-CA"
    assert page.title == "Déneigement et photoradar dans votre quartier — Alertes de quartier"
    assert len(page.map_links) == 10 and len(set(page.map_links)) == 10
    assert all(link.startswith("/zones/") for link in page.map_links)
    # The zone table links to the same pages as the map.
    assert set(page.map_links) <= set(page.links)
    assert "/en" in page.links
    assert page.scripts == 0
    assert not [s for s in page.sources if s.startswith(("http:", "https:", "//"))]
    text = response.text
    assert 'aria-label="Lac-Doré — Opération en cours"' in text
    assert 'aria-label="Côte-Blanche — Opération ou avis à venir"' in text
    assert 'aria-label="Saint-Éloi — Rien de prévu"' in text
    for legend in ("Opération en cours", "Opération ou avis à venir", "Rien de prévu"):
        assert legend in text
    assert "Déneigement ce soir dès 19 h" in text
    assert "Avis d'avant-hier" not in html.unescape(text)  # past ones: on the zone page
    assert "jeudi 3 décembre, de 15 h à 23 h" in text  # the running operation, local time


def test_english_comes_from_the_browser_or_the_switch(seeded_client: TestClient) -> None:
    english = seeded_client.get("/", headers={"Accept-Language": "en-CA,en;q=0.9,fr;q=0.5"})
    page = Page(english.text)
    assert page.lang == "en-CA"
    assert page.title.startswith("Snow removal and photo radar in your neighbourhood")
    assert "/fr" in page.links
    assert all(link.startswith("/en/zones/") for link in page.map_links)
    assert 'aria-label="Lac-Doré — Operation in progress"' in english.text
    assert Page(seeded_client.get("/en").text).lang == "en-CA"
    assert Page(seeded_client.get("/fr", headers={"Accept-Language": "en"}).text).lang == "fr-CA"


def test_both_pages_say_how_to_subscribe_in_both_languages(seeded_client: TestClient) -> None:
    for path in ("/", "/en"):
        text = html.unescape(re.sub(r"<[^>]+>", "", seeded_client.get(path).text)).lower()
        assert "textez abonner suivi de votre adresse ou du nom de votre quartier" in text
        assert "text subscribe followed by your address or the name of your neighbourhood" in text
        assert f"au {NUMBER}" in text and f"to {NUMBER}" in text


def test_a_zone_page_lists_its_notices_current_and_recent(seeded_client: TestClient) -> None:
    response = seeded_client.get("/zones/saint-eloi")
    assert response.status_code == 200
    page = Page(response.text)
    assert page.title.startswith("Avis pour Saint-Éloi")
    assert "Déneigement ce soir dès 19 h" in response.text
    assert "Avis d'avant-hier" in html.unescape(response.text)  # recent
    assert "/en/zones/saint-eloi" in page.links
    english = seeded_client.get("/en/zones/lac-dore")
    assert "Notices for Lac-Doré" in english.text
    assert "Operation in progress" in english.text
    assert "Thursday, December 3, from 3 p.m. to 11 p.m." in english.text


def test_an_unknown_zone_is_a_404_page(seeded_client: TestClient) -> None:
    response = seeded_client.get("/zones/atlantide")
    assert response.status_code == 404
    assert Page(response.text).title.startswith("Page introuvable")
    assert seeded_client.get("/en/zones/atlantide").status_code == 404


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "fr"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("en;q=0.5,fr;q=0.5", "fr"),
        ("de-DE,en;q=0.3", "en"),
        ("es", "fr"),
        ("en;q=abc", "fr"),
    ],
)
def test_accept_language_prefers_french_on_a_tie(header: str | None, lang: str) -> None:
    assert preferred_language(header) == lang


def test_before_any_zone_import_the_public_routes_say_so(services: Services) -> None:
    with TestClient(create_app(services)) as client:
        for path in ("/", "/alerts.atom", "/alerts.geojson", "/zones.geojson", "/zones/x"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert "alerts zones import" in response.text
