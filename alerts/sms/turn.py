"""What one conversation turn is made of: the inbound text, its outcome, and the turn itself
as the subscription steps see it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from alerts.core.keywords import Lang
from alerts.errors import InvalidInput
from alerts.storage.models import Subscriber, Subscription
from alerts.wiring import Services

# Twilio refuses longer texts; the other bounds are those of the inbound_message columns
# (a sender is kept to 16 characters, E.164's longest) with room for a provider's spelling.
MAX_BODY_CHARS = 1600
MAX_SENDER_CHARS = 32
MAX_SID_CHARS = 64
MAX_OPT_OUT_TYPE_CHARS = 16
# C0 and C1 control characters but tab and newline: PostgreSQL cannot store NUL, and none of
# them means anything in a text message. Lone surrogates (from JSON) cannot be stored either.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def plain_text(value: str) -> str:
    """`value` without control characters: CR and CRLF become newlines, tabs and newlines stay,
    the others (NUL included) go; a lone surrogate becomes U+FFFD."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _SURROGATES.sub("\ufffd", value))


@dataclass(frozen=True)
class InboundSms:
    """A text as the provider delivered it."""

    sender: str
    body: str
    message_sid: str
    to: str = ""
    opt_out_type: str | None = None

    def checked(self) -> InboundSms:
        """This text fit to store: control characters dropped, InvalidInput for a field that
        is empty or too long (the message names the field, never its value)."""
        cleaned = replace(
            self,
            sender=plain_text(self.sender).strip(),
            body=plain_text(self.body),
            message_sid=plain_text(self.message_sid).strip(),
            to=plain_text(self.to).strip(),
            opt_out_type=plain_text(self.opt_out_type or "").strip() or None,
        )
        limits = (
            ("the text", cleaned.body, MAX_BODY_CHARS),
            ("the sender", cleaned.sender, MAX_SENDER_CHARS),
            ("the recipient", cleaned.to, MAX_SENDER_CHARS),
            ("the MessageSid", cleaned.message_sid, MAX_SID_CHARS),
            ("the OptOutType", cleaned.opt_out_type or "", MAX_OPT_OUT_TYPE_CHARS),
        )
        for name, value, limit in limits:
            if len(value) > limit:
                raise InvalidInput(f"{name} is longer than {limit} characters")
        if not cleaned.message_sid:
            raise InvalidInput("the message has no MessageSid")
        return cleaned


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
