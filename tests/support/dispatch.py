"""Helpers for the alert and dispatch tests: the demo layer, bulk subscribers, Twilio wiring."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import insert, select

from alerts.config import Settings
from alerts.gateways.twilio_gateway import TwilioGateway
from alerts.storage.models import Delivery, Subscriber, Subscription, ZoneRecord
from alerts.wiring import Services, build
from tests.support.fake_twilio import FakeTwilio

SENDER = "+15005550006"
# Fast settings for tests: a high rate, tiny backoffs, quick polling, the shortest lease.
FAST = {
    "dispatch.rate_per_second": 100_000,
    "dispatch.backoff_base_seconds": 0.01,
    "dispatch.backoff_max_seconds": 0.05,
    "dispatch.poll_seconds": 0.05,
    "dispatch.lease_seconds": 5,
    "dispatch.redeliver_delay_seconds": 0,
}


def twilio_services(
    settings: Settings,
    fake: FakeTwilio,
    *,
    timeout: float = 5.0,
    auth_token: str | None = None,
    status_callback: str | None = None,
    **overrides: object,
) -> Services:
    """Services on the test database sending through the real SDK to the fake Twilio."""
    tuned = settings.with_overrides(**{**FAST, **overrides})
    gateway = TwilioGateway(
        fake.account_sid,
        auth_token or fake.auth_token,
        from_number=SENDER,
        api_base_url=fake.base_url,
        status_callback=status_callback,
        timeout=timeout,
        pool_size=tuned.dispatch.max_in_flight,
    )
    return build(tuned, gateway=gateway)


def import_demo_zones(services: Services) -> dict[str, int]:
    """The demo town's zones (no addresses); returns zone ids by name."""
    from alerts.demo.run import DEMO_LAYER
    from alerts.places.layers import import_zones

    import_zones(services, str(DEMO_LAYER))
    with services.session(read_only=True) as session:
        return {
            name: zone_id
            for zone_id, name in session.execute(select(ZoneRecord.id, ZoneRecord.name))
        }


def phone(n: int) -> str:
    """A distinct test number; the fake only checks E.164 shape."""
    return f"+1418{2000000 + n:07d}"


def bulk_subscribers(
    services: Services,
    numbers: Iterable[int],
    zone_id: int,
    *,
    lang: str = "fr",
    status: str = "active",
    snow: bool = True,
    radar: bool = True,
    lonlat: tuple[float, float] | None = None,
) -> None:
    """Insert subscribers with one subscription each, in bulk (thousands per second)."""
    now = datetime.now(UTC)
    people = [
        {
            "phone": phone(n),
            "status": status,
            "lang": lang,
            "topic_snow": snow,
            "topic_radar": radar,
            "source": "test",
            "created_at": now,
            "updated_at": now,
        }
        for n in numbers
    ]
    with services.session() as session:
        for start in range(0, len(people), 5000):
            session.execute(insert(Subscriber), people[start : start + 5000])
        ids: dict[str, int] = {}
        for start in range(0, len(people), 5000):
            wanted = [p["phone"] for p in people[start : start + 5000]]
            found = select(Subscriber.phone, Subscriber.id).where(Subscriber.phone.in_(wanted))
            ids.update((phone, sid) for phone, sid in session.execute(found))
        lon, lat = lonlat if lonlat else (None, None)
        rows = [
            {
                "subscriber_id": ids[p["phone"]],
                "zone_id": zone_id,
                "status": "active",
                "lon": lon,
                "lat": lat,
                "created_at": now,
            }
            for p in people
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Subscription), rows[start : start + 5000])


def delivery_states(services: Services, alert_id: int) -> dict[str, str]:
    """State of each delivery of an alert, by phone number."""
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(Subscriber.phone, Delivery.state)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.alert_id == alert_id)
        ).all()
    return dict(rows)
