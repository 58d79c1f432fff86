"""A number's messages both ways, newest first: what a 311 agent needs to answer "I didn't
get the text" (was it sent, did the carrier refuse it, did they text STOP?)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session, col

from alerts.core.local_time import format_local
from alerts.core.phones import mask_phone, parse_phone
from alerts.errors import NotFound
from alerts.gateways.gateway import error_meaning
from alerts.storage.models import Alert, Delivery, InboundMessage, Subscriber
from alerts.subscribers.subscribers import SubscriberView, show_subscriber
from alerts.wiring import Services

IN, OUT = "in", "out"
# A number that texted the service but never became a subscriber (an address not found,
# a HELP): its messages are shown all the same.
NOT_SUBSCRIBED = "not_subscribed"
_DETAIL_MAX = 200  # characters of a provider's or a worker's message kept for the screen


@dataclass(frozen=True)
class MessageView:
    """One message to or from the number."""

    at: datetime  # received; or sent (queued, if not sent yet)
    direction: str  # in | out
    text: str
    # out: the delivery's state (queued, sent, delivered, undelivered, failed, skipped...);
    # in: what the service did with it (subscribe, stop, help...).
    state: str
    error_code: str | None = None
    alert_id: int | None = None
    reply: str | None = None  # in: what the service answered
    detail: str | None = None  # out: why it failed or was skipped, when no code says it
    updated_at: datetime | None = None  # out: when the delivery reached its state

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        """The JSON shape: times in ISO 8601 with the service zone's offset."""
        return {
            "at": format_local(self.at, tz),
            "direction": self.direction,
            "text": self.text,
            "state": self.state,
            "error_code": self.error_code,
            "error": error_meaning(self.error_code) if self.error_code else self.detail,
            "alert_id": self.alert_id,
            "reply": self.reply,
            "updated_at": format_local(self.updated_at, tz) if self.updated_at else None,
        }


@dataclass(frozen=True)
class MessageHistory:
    """A number as `subscribers show` sees it, with its latest messages."""

    subscriber: SubscriberView
    messages: list[MessageView]
    total: int  # messages in all; `messages` holds the newest of them

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        """The JSON shape of `alerts subscribers show PHONE --messages --json`."""
        return {
            **self.subscriber.as_dict(),
            "messages": [message.as_dict(tz) for message in self.messages],
            "messages_total": self.total,
        }


def message_history(services: Services, phone: str, *, limit: int = 50) -> MessageHistory:
    """The number's `limit` latest messages, inbound and outbound, newest first.

    NotFound when the service knows nothing of the number (never subscribed, never texted).
    """
    e164 = parse_phone(phone, services.settings.service.region)
    try:
        view: SubscriberView | None = show_subscriber(services, e164)
    except NotFound:
        view = None
    with services.session(read_only=True) as session:
        subscriber_id = session.execute(
            select(col(Subscriber.id)).where(col(Subscriber.phone) == e164)
        ).scalar_one_or_none()
        inbound, inbound_total = _inbound(session, e164, limit)
        outbound, outbound_total = _outbound(session, subscriber_id, limit)
    if view is None:
        if not inbound_total:
            raise NotFound(f"no subscriber with number {mask_phone(e164)}, and no message")
        view = SubscriberView(e164, NOT_SUBSCRIBED, "", [], [])
    newest = sorted([*inbound, *outbound], key=lambda message: message.at, reverse=True)
    return MessageHistory(view, newest[:limit], inbound_total + outbound_total)


def _inbound(session: Session, phone: str, limit: int) -> tuple[list[MessageView], int]:
    mine = col(InboundMessage.from_phone) == phone
    total = session.execute(
        select(func.count()).select_from(InboundMessage).where(mine)
    ).scalar_one()
    rows = session.execute(
        select(InboundMessage)
        .where(mine)
        .order_by(col(InboundMessage.received_at).desc(), col(InboundMessage.id).desc())
        .limit(limit)
    ).scalars()
    return [
        MessageView(
            at=row.received_at,
            direction=IN,
            text=row.body,
            state=row.action or "received",
            reply=row.reply or None,
        )
        for row in rows
    ], int(total)


def _outbound(
    session: Session, subscriber_id: int | None, limit: int
) -> tuple[list[MessageView], int]:
    if subscriber_id is None:
        return [], 0
    mine = col(Delivery.subscriber_id) == subscriber_id
    total = session.execute(select(func.count()).select_from(Delivery).where(mine)).scalar_one()
    when = func.coalesce(col(Delivery.sent_at), col(Delivery.created_at))
    rows = session.execute(
        select(Delivery, col(Alert.body_fr), col(Alert.body_en))
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .where(mine)
        .order_by(when.desc(), col(Delivery.id).desc())
        .limit(limit)
    ).all()
    messages = []
    for delivery, body_fr, body_en in rows:
        detail = (delivery.error_message or "")[:_DETAIL_MAX] or None
        messages.append(
            MessageView(
                at=delivery.sent_at or delivery.created_at,
                direction=OUT,
                text=body_en if delivery.lang == "en" else body_fr,
                state=delivery.state,
                error_code=delivery.error_code,
                alert_id=delivery.alert_id,
                detail=detail,
                updated_at=delivery.finished_at,
            )
        )
    return messages, int(total)
