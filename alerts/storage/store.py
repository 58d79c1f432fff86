"""Queries shared by the use-cases; each takes the Session it works in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel import Session, col

from alerts.storage.models import (
    ACTIVE,
    InboundMessage,
    Subscriber,
    Subscription,
    Suppression,
    ZoneRecord,
)


def subscriber_by_phone(
    session: Session, phone: str, *, for_update: bool = False
) -> Subscriber | None:
    """The subscriber with this E.164 number, if any."""
    query = select(Subscriber).where(col(Subscriber.phone) == phone)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def suppression_for(session: Session, phone: str) -> Suppression | None:
    """The suppression record of a number, if it must not be texted."""
    return session.execute(
        select(Suppression).where(col(Suppression.phone) == phone)
    ).scalar_one_or_none()


def suppress(
    session: Session, phone: str, reason: str, now: datetime, error_code: str | None = None
) -> None:
    """Record that a number must never be texted again (idempotent)."""
    existing = suppression_for(session, phone)
    if existing is None:
        session.add(Suppression(phone=phone, reason=reason, error_code=error_code, created_at=now))
    else:
        existing.reason, existing.error_code = reason, error_code
        session.add(existing)


def lift_suppression(session: Session, phone: str) -> None:
    """Allow texting a number again (the resident asked to resume)."""
    session.execute(delete(Suppression).where(col(Suppression.phone) == phone))


def subscriptions_of(session: Session, subscriber_id: int) -> list[tuple[Subscription, str | None]]:
    """A subscriber's subscriptions with their zone names, in the order they were made."""
    rows = session.execute(
        select(Subscription, col(ZoneRecord.name))
        .join(ZoneRecord, col(ZoneRecord.id) == Subscription.zone_id, isouter=True)
        .where(col(Subscription.subscriber_id) == subscriber_id)
        .order_by(col(Subscription.id))
    ).all()
    return [(row[0], row[1]) for row in rows]


def zone_names_of(session: Session, subscriber_id: int) -> list[str]:
    """The names of a subscriber's zones."""
    return [name for _, name in subscriptions_of(session, subscriber_id) if name is not None]


def add_subscription(
    session: Session,
    subscriber_id: int,
    zone_id: int,
    *,
    status: str = ACTIVE,
    lon: float | None = None,
    lat: float | None = None,
    place_text: str | None = None,
    zone_name: str | None = None,
    now: datetime,
) -> Subscription:
    """Subscribe to a zone, or refresh the existing subscription to it.

    The zone's name is kept on the subscription (looked up unless given), so a layer import
    that leaves it without a zone can link it again to a later zone of that name.
    """
    if zone_name is None:
        zone_name = session.execute(
            select(col(ZoneRecord.name)).where(col(ZoneRecord.id) == zone_id)
        ).scalar_one_or_none()
    existing = session.execute(
        select(Subscription).where(
            col(Subscription.subscriber_id) == subscriber_id, col(Subscription.zone_id) == zone_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        if status == ACTIVE:
            existing.status = ACTIVE
        if lon is not None:
            existing.lon, existing.lat, existing.place_text = lon, lat, place_text
        existing.zone_name = zone_name
        session.add(existing)
        return existing
    subscription = Subscription(
        subscriber_id=subscriber_id,
        zone_id=zone_id,
        status=status,
        lon=lon,
        lat=lat,
        place_text=place_text,
        zone_name=zone_name,
        created_at=now,
    )
    session.add(subscription)
    return subscription


def delete_personal_data(session: Session, subscriber: Subscriber) -> None:
    """Remove a subscriber, their places and their messages (the right to be forgotten)."""
    session.execute(
        delete(InboundMessage).where(col(InboundMessage.from_phone) == subscriber.phone)
    )
    session.execute(delete(Subscription).where(col(Subscription.subscriber_id) == subscriber.id))
    session.delete(subscriber)


def forget_phone(session: Session, phone: str, now: datetime) -> bool:
    """The right to be forgotten, subscriber or not: delete the number's subscriber row,
    places and every message it sent, keeping only the suppression record (so it is never
    texted again). True if the number was a subscriber."""
    subscriber = subscriber_by_phone(session, phone, for_update=True)
    if subscriber is not None:
        delete_personal_data(session, subscriber)
    # Someone who only ever texted an address has no subscriber row, but their messages
    # (the address, the number) are personal data all the same.
    session.execute(delete(InboundMessage).where(col(InboundMessage.from_phone) == phone))
    suppress(session, phone, "forgotten", now)
    return subscriber is not None


def phones_in(
    session: Session, model: type[Subscriber] | type[Suppression], phones: Iterable[str]
) -> dict[str, object]:
    """Rows of `model` whose phone is among `phones`, by phone (chunked IN queries)."""
    wanted = list(dict.fromkeys(phones))
    found: dict[str, object] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in session.execute(select(model).where(col(model.phone).in_(chunk))).scalars():
            found[row.phone] = row
    return found
