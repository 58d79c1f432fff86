"""The optional online geocoder, against a local Nominatim-speaking server (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.config import Settings
from alerts.places.places import locate_text
from alerts.wiring import Services, build
from tests.support.webhooks import PUBLIC, TOKEN, inbound_fields, signed
from zones.errors import PlaceNotFound


class _Nominatim(BaseHTTPRequestHandler):
    known: ClassVar[dict[str, tuple[str, str, str]]] = {
        "12 rue inconnue": ("47.0395", "-71.3220", "12 Rue Inconnue, Val-Givré")
    }
    queries: ClassVar[list[dict[str, list[str]]]] = []
    # Set by a test: each query announces itself, then waits (at most 10 s) for `release`,
    # which is set once the query is answered.
    asked: ClassVar[threading.Event | None] = None
    release: ClassVar[threading.Event | None] = None

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        type(self).queries.append(query)
        if self.asked is not None and self.release is not None:
            self.asked.set()
            self.release.wait(10)
            self.release.set()  # set once answered, released or not: the test can tell
        hit = self.known.get(query.get("q", [""])[0].lower())
        places = [{"lat": hit[0], "lon": hit[1], "display_name": hit[2]}] if hit else []
        body = json.dumps(places).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nominatim() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def online(settings: Settings, nominatim: str) -> Iterator[Services]:
    from alerts.demo.run import DEMO_LAYER
    from alerts.places.layers import import_zones

    wired = build(
        settings.with_overrides(**{"zones.online_geocoder": True, "zones.nominatim_url": nominatim})
    )
    import_zones(wired, str(DEMO_LAYER))
    yield wired
    wired.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unknown_addresses_go_to_the_online_geocoder(online: Services) -> None:
    found = locate_text(online, "12 rue Inconnue")
    assert found["zone"] == "Côte-Blanche"
    assert found["matched"] == "12 Rue Inconnue, Val-Givré"
    sent = _Nominatim.queries[-1]
    assert sent["countrycodes"] == ["ca"] and sent["bounded"] == ["1"]
    west, south, east, north = online.zones.layer().bounds
    assert sent["viewbox"] == [f"{west},{south},{east},{north}"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_not_found_online_is_still_not_found(online: Services) -> None:
    with pytest.raises(PlaceNotFound):
        locate_text(online, "99 rue Nulle-Part")
    # Zone names never reach the online service.
    before = len(_Nominatim.queries)
    assert locate_text(online, "lac dore")["zone"] == "Lac-Doré"
    assert len(_Nominatim.queries) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unreachable_server_is_not_an_error(settings: Settings) -> None:
    from alerts.demo.run import DEMO_LAYER
    from alerts.places.layers import import_zones

    wired = build(
        settings.with_overrides(
            **{
                "zones.online_geocoder": True,
                "zones.nominatim_url": "http://127.0.0.1:9",
                "zones.online_timeout_seconds": 1,
            }
        )
    )
    import_zones(wired, str(DEMO_LAYER))
    with pytest.raises(PlaceNotFound):
        locate_text(wired, "12 rue Inconnue")
    wired.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_webhook_keeps_answering_while_a_turn_waits_on_the_geocoder(
    settings: Settings, nominatim: str
) -> None:
    from fastapi.testclient import TestClient

    from alerts.demo.run import DEMO_LAYER
    from alerts.places.layers import import_zones
    from alerts.web.app import create_app

    wired = build(
        settings.with_overrides(
            **{
                "zones.online_geocoder": True,
                "zones.nominatim_url": nominatim,
                "zones.online_timeout_seconds": 15,
                "twilio.auth_token": TOKEN,
                "service.public_url": PUBLIC,
            }
        )
    )
    import_zones(wired, str(DEMO_LAYER))
    _Nominatim.asked, _Nominatim.release = threading.Event(), threading.Event()
    replies: list[str] = []
    try:
        with TestClient(create_app(wired)) as client:
            fields = inbound_fields("abonner 12 rue Inconnue")

            def resident() -> None:
                answer = client.post("/sms/inbound", data=fields, headers=signed(
                    "/sms/inbound", fields))  # fmt: skip
                replies.append(answer.text)

            waiting = threading.Thread(target=resident)
            waiting.start()
            assert _Nominatim.asked.wait(10)  # the turn is now waiting on the geocoder
            # Meanwhile another resident is answered (a write) and the health check too:
            # neither the event loop nor the database is held by the waiting turn.
            other = inbound_fields("AIDE", sender="+14185550199")
            helped = client.post("/sms/inbound", data=other, headers=signed(
                "/sms/inbound", other))  # fmt: skip
            health = client.get("/health")
            held_meanwhile = not _Nominatim.release.is_set()
            _Nominatim.release.set()
            waiting.join(30)
        assert held_meanwhile
        assert health.status_code == 200 and "<Message>" in helped.text
        assert len(replies) == 1 and "Blanche" in replies[0]  # the zone the address lies in
    finally:
        _Nominatim.asked = _Nominatim.release = None
        wired.close()
