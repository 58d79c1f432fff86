"""Operator use-cases on subscribers: add, show, list, remove, forget, export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import Select, func, select
from sqlmodel import Session, col

from alerts.core.phones import mask_phone, parse_phone
from alerts.errors import InvalidInput, InvalidOption, NotFound
from alerts.places.places import ResolvedPlace, resolve_one
from alerts.storage import store
from alerts.storage.audit import record_action
from alerts.storage.models import (
    ACTIVE,
    LANGS,
    OPTED_OUT,
    TOPICS,
    Subscriber,
    Subscription,
    Suppression,
    ZoneRecord,
)
from alerts.wiring import Services
from zones.names import fold

# Topic and language words as operators and spreadsheets write them (compared unaccented).
_TOPIC_WORDS = {
    "snow": "snow", "neige": "snow", "deneigement": "snow",
    "radar": "radar", "photoradar": "radar", "photo-radar": "radar",
}  # fmt: skip
_LANG_WORDS = {
    "fr": "fr", "francais": "fr", "french": "fr", "en": "en", "anglais": "en", "english": "en",
}  # fmt: skip
_LIST_SEPARATORS = re.compile(r"[,;|\s]+")
# A number the carrier reported unable to receive SMS: never texted, whatever its status.
SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class SubscriberView:
    """What operators see of a subscriber."""

    phone: str
    status: str
    lang: str
    zones: list[str]
    topics: list[str]
    # The provider's code that got the number suppressed (21211, 30006...), if it is.
    error_code: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts subscribers show`."""
        return asdict(self)


class AlreadyOptedOut(InvalidInput):
    """An operator tried to subscribe a number that opted out; only its owner may resume."""


class UnknownTopic(InvalidOption):
    """A topic that is neither snow nor radar (in French or English)."""


class UnknownLanguage(InvalidOption):
    """A language that is neither French nor English."""


def parse_topics(text: str | None) -> list[str] | None:
    """Topics from "snow,radar", "neige;radar", "snow|radar" or "snow radar"; None when not
    given."""
    if text is None:
        return None
    topics = []
    for word in _LIST_SEPARATORS.split(text.strip()):
        if not word:
            continue
        topic = _TOPIC_WORDS.get(fold(word).strip())
        if topic is None:
            raise UnknownTopic(f"unknown topic {word!r} (topics: snow or neige, radar)")
        topics.append(topic)
    if not topics:
        raise UnknownTopic("give at least one topic (snow, radar)")
    return [t for t in TOPICS if t in topics]


def parse_lang(text: str | None) -> str | None:
    """A language code, fr or en, from "fr", "français", "English"...; None when not given."""
    if text is None:
        return None
    lang = _LANG_WORDS.get(fold(text).strip())
    if lang is None or lang not in LANGS:
        raise UnknownLanguage(f"unknown language {text!r} (use fr or en)")
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
        record_action(
            session, services.operator, "subscribers.add", mask_phone(e164),
            now=services.clock(), zone=place.zone_name, lang=subscriber.lang,
            topics=subscriber.topics,
        )  # fmt: skip
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
            suppression = store.suppression_for(session, e164)
            if suppression is not None:
                status, code = effective_status(OPTED_OUT, suppression)
                return SubscriberView(e164, status, "", [], [], code)
            raise NotFound(f"no subscriber with number {mask_phone(e164)}")
        return _view(session, subscriber)


def list_subscribers(
    services: Services,
    *,
    zone: str | None = None,
    without_zone: bool = False,
    include_phones: bool = False,
    limit: int | None = None,
) -> Iterator[SubscriberView]:
    """Every subscriber (of one zone if named; or only those with a subscription a layer
    re-import left without a zone), phone numbers masked unless asked; the first `limit`
    only if given (count_subscribers tells how many there are)."""
    zone_id = _zone_filter(services, zone)
    with services.session(read_only=True) as session:
        chosen = _subscriber_ids(zone_id, without_zone).order_by(col(Subscriber.id))
        if limit is not None:
            chosen = chosen.limit(limit)
        query = (
            select(Subscriber, col(ZoneRecord.name), Suppression)
            .join(Subscription, col(Subscription.subscriber_id) == Subscriber.id, isouter=True)
            .join(ZoneRecord, col(ZoneRecord.id) == Subscription.zone_id, isouter=True)
            .join(Suppression, col(Suppression.phone) == Subscriber.phone, isouter=True)
            .order_by(col(Subscriber.id), col(Subscription.id))
        )
        if limit is not None or zone_id is not None or without_zone:
            query = query.where(col(Subscriber.id).in_(chosen))
        current: Subscriber | None = None
        suppressed: Suppression | None = None
        names: list[str] = []
        for subscriber, name, suppression in session.execute(query).yield_per(2000):
            if current is not None and subscriber.id != current.id:
                yield _plain_view(current, names, include_phones, suppressed)
                names = []
            current, suppressed = subscriber, suppression
            if name is not None:
                names.append(name)
        if current is not None:
            yield _plain_view(current, names, include_phones, suppressed)


def count_subscribers(
    services: Services, *, zone: str | None = None, without_zone: bool = False
) -> int:
    """How many subscribers list_subscribers would list without a limit."""
    zone_id = _zone_filter(services, zone)
    with services.session(read_only=True) as session:
        ids = _subscriber_ids(zone_id, without_zone).subquery()
        return int(session.execute(select(func.count()).select_from(ids)).scalar_one())


def _zone_filter(services: Services, zone: str | None) -> int | None:
    return None if zone is None else resolve_one(services, zone=zone).zone_id


def _subscriber_ids(zone_id: int | None, without_zone: bool) -> Select[int | None]:
    """The ids of the subscribers listed: all, those of one zone, or those left without one."""
    ids = select(col(Subscriber.id))
    if without_zone:
        ids = ids.where(
            col(Subscriber.id).in_(
                select(col(Subscription.subscriber_id)).where(col(Subscription.zone_id).is_(None))
            )
        )
    if zone_id is not None:
        ids = ids.where(
            col(Subscriber.id).in_(
                select(col(Subscription.subscriber_id)).where(col(Subscription.zone_id) == zone_id)
            )
        )
    return ids


def remove_subscriber(services: Services, phone: str) -> None:
    """Delete a subscriber entered by mistake (no suppression kept: use forget for opt-outs)."""
    e164 = parse_phone(phone, services.settings.service.region)
    with services.session() as session:
        subscriber = store.subscriber_by_phone(session, e164, for_update=True)
        if subscriber is None:
            raise NotFound(f"no subscriber with number {mask_phone(e164)}")
        store.delete_personal_data(session, subscriber)
        masked = mask_phone(e164)
        record_action(
            session, services.operator, "subscribers.remove", masked, now=services.clock()
        )


def forget_subscriber(services: Services, phone: str) -> bool:
    """Delete everything about a number (its messages too, subscriber or not) but a suppression
    record; True if it was a subscriber."""
    e164 = parse_phone(phone, services.settings.service.region)
    with services.session() as session:
        known = store.forget_phone(session, e164, services.clock())
        # The masked number only: the suppression record is all that may keep the number.
        record_action(
            session, services.operator, "subscribers.forget", mask_phone(e164),
            now=services.clock(), subscriber=known,
        )  # fmt: skip
        return known


def effective_status(status: str, suppression: Suppression | None) -> tuple[str, str | None]:
    """What a subscriber is, with its suppression (status, provider code): a number the
    carrier refused is suppressed, one that opted out or was forgotten is opted out."""
    if suppression is None:
        return status, None
    if suppression.reason == "invalid":
        return SUPPRESSED, suppression.error_code
    return OPTED_OUT, suppression.error_code


def _view(session: Session, subscriber: Subscriber) -> SubscriberView:
    assert subscriber.id is not None
    zones = store.zone_names_of(session, subscriber.id)
    return _plain_view(subscriber, zones, True, store.suppression_for(session, subscriber.phone))


def _plain_view(
    subscriber: Subscriber,
    zones: list[str],
    include_phone: bool,
    suppression: Suppression | None = None,
) -> SubscriberView:
    phone = subscriber.phone if include_phone else mask_phone(subscriber.phone)
    status, code = effective_status(subscriber.status, suppression)
    return SubscriberView(phone, status, subscriber.lang, zones, subscriber.topics, code)
