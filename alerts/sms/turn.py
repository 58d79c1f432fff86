"""What one conversation turn is made of: the inbound text, its outcome, and the turn itself
as the subscription steps see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from alerts.core.keywords import Lang
from alerts.storage.models import Subscriber, Subscription
from alerts.wiring import Services


@dataclass(frozen=True)
class InboundSms:
    """A text as the provider delivered it."""

    sender: str
    body: str
    message_sid: str
    to: str = ""
    opt_out_type: str | None = None


@dataclass(frozen=True)
class TurnOutcome:
    """What the service did with a text and what it answers (None: no reply)."""

    reply: str | None
    action: str
    duplicate: bool = False


class Turn(Protocol):
    """One inbound message being handled: the sender, their row, the reply language."""

    services: Services
    session: Session
    now: datetime
    phone: str
    subscriber: Subscriber | None
    lang: Lang

    def say(self, name: str, lang: Lang | None = None, **values: str) -> str:
        """A reply in the turn's language (or `lang`), filled with `values`."""
        ...

    def touch(self) -> None:
        """Mark the sender's row changed now."""
        ...

    def subscriptions(self) -> list[tuple[Subscription, str | None]]:
        """The sender's subscriptions with their zone names."""
        ...

    def zones_text(self) -> str:
        """The sender's active zones, as a reply lists them."""
        ...

    def topics_text(self) -> str:
        """The sender's topics, as a reply lists them."""
        ...
