"""No public byte holds personal data: every public route searched for phones, addresses, points."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.core.composition import MessageSpec
from alerts.core.phones import mask_phone
from alerts.sending.cancelling import cancel_alert
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.sms.conversation import InboundSms, handle_inbound
from alerts.storage.models import Subscription
from alerts.subscribers.subscribers import add_subscriber
from alerts.web.app import create_app
from alerts.wiring import Services
from tests.support.public import NOW, add_operation

# The Twilio webhooks are the only routes that may see personal data.
PRIVATE_PREFIXES = ("/sms/",)
RESIDENTS = [
    {"phone": "+14185550142", "zone": "Saint-Éloi"},
    {"phone": "+14185550143", "address": "120 Rue Saint-Jean-des-Neiges"},
    {"phone": "+14185550144", "at": "47.041234,-71.318765"},
    {"phone": "+14185550145", "at": "47.061357,-71.372468", "lang": "en"},
    {"phone": "+15815550146", "address": "25 boul. du Fort"},
]
TEXTED = [("+14185550147", "ABONNER 1090 ch. du Lac-Doré"), ("+14185550147", "OUI")]
_NUMBER = re.compile(r"-?\d+\.\d+")


def phone_forms(e164: str) -> set[str]:
    """Ways a North American number may be written."""
    national = e164[-10:]
    area, exchange, line = national[:3], national[3:6], national[6:]
    return {
        e164, e164[1:], national, f"{area}-{exchange}-{line}", f"{area} {exchange}-{line}",
        f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", f"{exchange}-{line}",
        f"{exchange}{line}", mask_phone(e164),
    }  # fmt: skip


def seed(services: Services) -> tuple[set[str], list[tuple[float, float]]]:
    """Residents, texts, alerts and operations; returns the secrets and the stored points."""
    secrets: set[str] = set()
    for resident in RESIDENTS:
        add_subscriber(services, **resident)  # type: ignore[arg-type]
        secrets |= phone_forms(resident["phone"])
        secrets |= {resident[key] for key in ("address", "at") if key in resident}
    for n, (sender, body) in enumerate(TEXTED):
        handle_inbound(services, InboundSms(sender, body, f"SMprivacy{n:024d}"))
        secrets |= phone_forms(sender)
    secrets.add(TEXTED[0][1].split(" ", 1)[1])
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(Subscription.place_text, Subscription.lon, Subscription.lat)
        ).all()
    secrets |= {place for place, _, _ in rows if place}
    points = [(lon, lat) for _, lon, lat in rows if lon is not None and lat is not None]
    assert len(points) >= 4  # addresses and map points were stored

    def alert(kind: str, target: TargetSpec, text: str) -> int:
        return send_alert(services, AlertRequest(kind, target, MessageSpec(text=text))).alert_id

    first = alert("snow", TargetSpec(zones=("Saint-Éloi", "Lac-Doré")), "Déneigement ce soir.")
    alert("radar", TargetSpec(near="47.0500,-71.3500", radius_m=400), "Photoradar demain.")
    alert("info", TargetSpec(everyone=True), "Bienvenue.")
    cancel_alert(services, first, notify="Correction: demain soir.")
    add_operation(
        services, zones=("Côte-Blanche",), start_at=NOW - timedelta(hours=1),
        end_at=NOW + timedelta(hours=6), location="Rue Principale",
    )  # fmt: skip
    return secrets, points


def public_paths(services: Services, client: TestClient) -> tuple[list[str], set[str]]:
    """Every GET path of the app outside the webhooks, with each parameter filled every way."""
    stored = services.zones.stored()
    slugs = [zone.slug for zone in stored.layer.zones]
    feed = client.get("/alerts.geojson").json()
    alert_ids = {str(feature["id"]) for feature in feed["features"]}
    alert_ids |= {str(n) for n in range(1, 8)}
    # The OpenAPI description lists every route, those of included routers too.
    described = client.get("/openapi.json").json()["paths"]
    templates = {
        path
        for path, methods in described.items()
        if "get" in methods and not path.startswith(PRIVATE_PREFIXES)
    }
    paths = ["/openapi.json"]
    for template in sorted(templates):
        if "{slug}" in template:
            paths += [template.replace("{slug}", slug) for slug in slugs]
        elif "{alert_id}" in template:
            paths += [template.replace("{alert_id}", n) for n in sorted(alert_ids)]
        else:
            assert "{" not in template, f"fill the parameters of {template}"
            paths.append(template)
    return paths, templates


def leaked_point(body: str, points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """A stored point written as two neighbouring numbers (lon,lat or lat,lon), if any."""
    numbers = [float(n) for n in _NUMBER.findall(body)]
    for a, b in itertools.pairwise(numbers):
        for lon, lat in points:
            near = abs(a - lon) < 1e-5 and abs(b - lat) < 1e-5
            if near or (abs(a - lat) < 1e-5 and abs(b - lon) < 1e-5):
                return lon, lat
    return None


def test_no_public_route_reveals_a_phone_an_address_or_a_stored_point(
    open_metrics_town: Services,
) -> None:
    secrets, points = seed(open_metrics_town)
    with TestClient(create_app(open_metrics_town)) as client:
        paths, templates = public_paths(open_metrics_town, client)
        assert {"/", "/en", "/zones/{slug}", "/alerts.atom", "/alerts.geojson", "/zones.geojson",
                "/alerts/{alert_id}.cap.xml", "/metrics", "/health"} <= templates  # fmt: skip
        seen = 0
        for path in paths:
            for headers in ({}, {"Accept-Language": "en"}):
                response = client.get(path, headers=headers)
                assert response.status_code in (200, 404), path
                body = response.content.decode("utf-8")
                found = sorted(secret for secret in secrets if secret in body)
                assert not found, f"{path} shows {found}"
                assert leaked_point(body, points) is None, f"{path} shows a stored point"
                seen += response.status_code == 200
    assert seen > 40


def test_the_search_finds_points_in_either_order_and_phones_in_any_form() -> None:
    points = [(-71.318765, 47.041234)]
    assert leaked_point('{"coordinates":[-71.31877,47.04123]}', points) == points[0]
    assert leaked_point("<polygon>47.041234,-71.318765 47.1,-71.2</polygon>", points)
    assert leaked_point("[-71.318765, 46.9]", points) is None
    assert "(418) 555-0142" in phone_forms("+14185550142")
    assert "+1******0142" in phone_forms("+14185550142")
