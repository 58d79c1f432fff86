"""Operator use-cases on subscribers: add, show, list, remove, forget, export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from alerts.core.phones import mask_phone, parse_phone
from alerts.errors import InvalidInput, NotFound
from alerts.places.places import ResolvedPlace, resolve_one
from alerts.storage import store
from alerts.storage.models import (
    ACTIVE,
    LANGS,
    OPTED_OUT,
    TOPICS,
    Subscriber,
    Subscription,
    ZoneRecord,
)
from alerts.wiring import Services

_TOPIC_WORDS = {"snow": "snow", "neige": "snow", "deneigement": "snow", "radar": "radar"}


@dataclass(frozen=True)
class SubscriberView:
    """What operators see of a subscriber."""

    phone: str
    status: str
    lang: str
    zones: list[str]
    topics: list[str]

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts subscribers show`."""
        return asdict(self)


class AlreadyOptedOut(InvalidInput):
    """An operator tried to subscribe a number that opted out; only its owner may resume."""


def parse_topics(text: str | None) -> list[str] | None:
    """Topics from "snow,radar" or "snow;radar" or "snow radar"; None when not given."""
    if text is None:
        return None
    words = [w for w in text.replace(",", " ").replace(";", " ").lower().split() if w]
    topics = []
    for word in words:
        topic = _TOPIC_WORDS.get(word)
        if topic is None:
            raise InvalidInput(f"unknown topic {word!r} (topics: snow, radar)")
        topics.append(topic)
    if not topics:
        raise InvalidInput("give at least one topic (snow, radar)")
    return [t for t in TOPICS if t in topics]


def parse_lang(text: str | None) -> str | None:
    """A language code fr or en; None when not given."""
    if text is None:
        return None
    lang = text.strip().lower()
    if lang not in LANGS:
        raise InvalidInput(f"unknown language {text!r} (use fr or en)")
    return lang


def add_subscriber(
    services: Services,
    phone: str,
    *,
    zone: str | None = None,
    address: str | None = None,
    at: str | None = None,
    lang: str | None = None,
    topics: str | None = None,
) -> SubscriberView:
    """Subscribe a number to a zone on an operator's word (consent obtained elsewhere)."""
    e164 = parse_phone(phone, services.settings.service.region)
    wanted_lang = parse_lang(lang)
    wanted_topics = parse_topics(topics)
    place = resolve_one(services, zone=zone, address=address, at=at)
    with services.session() as session:
        subscriber = _active_subscriber(services, session, e164, wanted_lang, wanted_topics)
        _subscribe(services, session, subscriber, place)
        return _view(session, subscriber)


def _active_subscriber(
    services: Services,
    session: Session,
    phone: str,
    lang: str | None,
    topics: list[str] | None,
) -> Subscriber:
    now = services.clock()
    if store.suppression_for(session, phone) is not None:
        raise AlreadyOptedOut(
            f"{mask_phone(phone)} opted out; only its owner can resume, by texting START"
        )
    subscriber = store.subscriber_by_phone(session, phone, for_update=True)
    if subscriber is None:
        subscriber = Subscriber(
            phone=phone,
            lang=lang or services.settings.service.default_lang,
            source="operator",
            created_at=now,
        )
    subscriber.status = ACTIVE
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.updated_at = now
    if lang:
        subscriber.lang = lang
    if topics is not None:
        subscriber.topic_snow, subscriber.topic_radar = "snow" in topics, "radar" in topics
    session.add(subscriber)
    session.flush()
    return subscriber


def _subscribe(
    services: Services, session: Session, subscriber: Subscriber, place: ResolvedPlace
) -> None:
    assert subscriber.id is not None
    store.add_subscription(
        session,
        subscriber.id,
        place.zone_id,
        status=ACTIVE,
        lon=place.lon,
        lat=place.lat,
        place_text=place.place_text,
        zone_name=place.zone_name,
        now=services.clock(),
    )


def show_subscriber(services: Services, phone: str) -> SubscriberView:
    """One subscriber's status, language, zones and topics; NotFound for an unknown number."""
    e164 = parse_phone(phone, services.settings.service.region)
    with services.session(read_only=True) as session:
        subscriber = store.subscriber_by_phone(session, e164)
        if subscriber is None:
            if store.suppression_for(session, e164) is not None:
                return SubscriberView(e164, OPTED_OUT, "", [], [])
            raise NotFound(f"no subscriber with number {mask_phone(e164)}")
        return _view(session, subscriber)


def list_subscribers(
    services: Services,
    *,
    zone: str | None = None,
    without_zone: bool = False,
    include_phones: bool = False,
) -> Iterator[SubscriberView]:
    """Every subscriber (of one zone if named; or only those with a subscription a layer
    re-import left without a zone), phone numbers masked unless asked."""
    zone_id = None
    if zone is not None:
        zone_id = resolve_one(services, zone=zone).zone_id
    with services.session(read_only=True) as session:
        query = (
            select(Subscriber, col(ZoneRecord.name))
            .join(Subscription, col(Subscription.subscriber_id) == Subscriber.id, isouter=True)
            .join(ZoneRecord, col(ZoneRecord.id) == Subscription.zone_id, isouter=True)
            .order_by(col(Subscriber.id), col(Subscription.id))
        )
        if without_zone:
            query = query.where(
                col(Subscriber.id).in_(
                    select(col(Subscription.subscriber_id)).where(
                        col(Subscription.zone_id).is_(None)
                    )
                )
            )
        if zone_id is not None:
            query = query.where(
                col(Subscriber.id).in_(
                    select(col(Subscription.subscriber_id)).where(
                        col(Subscription.zone_id) == zone_id
                    )
                )
            )
        current: Subscriber | None = None
        names: list[str] = []
        for subscriber, name in session.execute(query).yield_per(2000):
            if current is not None and subscriber.id != current.id:
                yield _plain_view(current, names, include_phones)
                names = []
            current = subscriber
            if name is not None:
                names.append(name)
        if current is not None:
            yield _plain_view(current, names, include_phones)


def remove_subscriber(services: Services, phone: str) -> None:
    """Delete a subscriber entered by mistake (no suppression kept: use forget for opt-outs)."""
    e164 = parse_phone(phone, services.settings.service.region)
    with services.session() as session:
        subscriber = store.subscriber_by_phone(session, e164, for_update=True)
        if subscriber is None:
            raise NotFound(f"no subscriber with number {mask_phone(e164)}")
        store.delete_personal_data(session, subscriber)


def forget_subscriber(services: Services, phone: str) -> bool:
    """Delete everything about a number (its messages too, subscriber or not) but a suppression
    record; True if it was a subscriber."""
    e164 = parse_phone(phone, services.settings.service.region)
    with services.session() as session:
        return store.forget_phone(session, e164, services.clock())


def _view(session: Session, subscriber: Subscriber) -> SubscriberView:
    assert subscriber.id is not None
    return _plain_view(subscriber, store.zone_names_of(session, subscriber.id), True)


def _plain_view(subscriber: Subscriber, zones: list[str], include_phone: bool) -> SubscriberView:
    phone = subscriber.phone if include_phone else mask_phone(subscriber.phone)
    return SubscriberView(phone, subscriber.status, subscriber.lang, zones, subscriber.topics)
