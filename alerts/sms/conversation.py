"""The SMS conversation: an inbound text and the sender's state -> the new state and a reply.

The same function serves the Twilio webhook and `alerts sms receive`. Every inbound message is
stored with what was done and replied, keyed by its MessageSid, so a retried webhook gets the
same reply and changes nothing a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from alerts.core import keywords
from alerts.core.keywords import Lang, as_lang
from alerts.core.phones import mask_phone, parse_phone
from alerts.errors import InvalidPhone
from alerts.gateways.online_geocoder import OnlinePlace
from alerts.places.places import OnlineLookupNeeded, look_up_online, online_lookups_deferred
from alerts.sms.subscription_requests import SubscriptionRequests
from alerts.sms.turn import InboundSms, TurnOutcome
from alerts.storage import store
from alerts.storage.models import (
    ACTIVE,
    OPTED_OUT,
    PENDING,
    InboundMessage,
    Subscriber,
    Subscription,
    table_of,
)
from alerts.wiring import Services

log = logging.getLogger(__name__)

# Actions whose reply the service sends of its own accord, to a text that asked for none
# (the help for an unknown text, "Canadian numbers only"): together limited per sender and
# per hour, so that two robots cannot loop and a foreign auto-responder costs little.
AUTO_HELP = "unknown"
NOT_FOR_US = "invalid_sender"
AUTOMATIC = (AUTO_HELP, NOT_FOR_US)
SILENCED = f"{AUTO_HELP}_silenced"  # an automatic reply held back: `{action}_silenced`
_ATTEMPTS = 3  # a race on a brand-new number's row is retried, then reported
_INBOUND = table_of(InboundMessage)
_SUBSCRIBERS = table_of(Subscriber)
_SELECT_SUBSCRIBER = select(_SUBSCRIBERS.c.id).where(_SUBSCRIBERS.c.phone == bindparam("phone"))
_INSERT_INBOUND = insert(_INBOUND)
_SELECT_OUTCOME = select(_INBOUND.c.reply, _INBOUND.c.action).where(
    _INBOUND.c.message_sid == bindparam("sid")
)


def handle_inbound(services: Services, sms: InboundSms) -> TurnOutcome:
    """Act on one inbound text exactly once and return the reply to send back; InvalidInput
    for a text no provider sends (a field too long, no MessageSid)."""
    sms = sms.checked()  # control characters (NUL: PostgreSQL refuses it) never reach storage
    online: dict[str, OnlinePlace | None] = {}  # online geocoder answers, by text
    attempt = 0
    while True:
        try:
            with online_lookups_deferred(online), services.session() as session:
                stored = _stored_outcome(session, sms.message_sid)
                if stored is not None:
                    return stored
                turn = _Turn(services, session, sms)
                outcome = turn.run()
                _remember(session, sms, outcome, turn.sender_key, services.clock())
                return outcome
        except OnlineLookupNeeded as needed:
            # The transaction is rolled back: look the place up with no lock held, then
            # run the turn again with the answer (a text names one place: one lookup).
            online[needed.text] = look_up_online(services, needed.text)
        except IntegrityError:
            # Another request created the same sender or MessageSid meanwhile: start over,
            # this time seeing what it stored.
            attempt += 1
            if attempt == _ATTEMPTS:
                raise


def _stored_outcome(session: Session, message_sid: str) -> TurnOutcome | None:
    row = session.connection().execute(_SELECT_OUTCOME, {"sid": message_sid}).first()
    if row is None:
        return None
    return TurnOutcome(row.reply or None, row.action, duplicate=True)


def _remember(
    session: Session, sms: InboundSms, outcome: TurnOutcome, phone: str, now: datetime
) -> None:
    forgotten = outcome.action == "forget"
    # A Core insert: this runs on every webhook request, and the ORM's unit of work would
    # cost more than the rest of a typical turn.
    session.connection().execute(
        _INSERT_INBOUND,
        {
            "message_sid": sms.message_sid,
            # A forgotten resident's number and words are not kept, only the fact of the reply.
            "from_phone": "" if forgotten else phone,
            "body": "" if forgotten else sms.body[:1600],
            "action": outcome.action,
            "reply": outcome.reply or "",
            "opt_out_type": sms.opt_out_type,
            "received_at": now,
        },
    )
    log.info("inbound %s from %s: %s", sms.message_sid, mask_phone(sms.sender), outcome.action)


# What an opted-out number may still get an answer to.
_ANSWERED_AFTER_OPT_OUT = (
    keywords.Stop,
    keywords.Start,
    keywords.Help,
    keywords.Subscribe,
    keywords.Yes,
    keywords.Forget,
)


class _Turn:
    """One inbound message being handled: the sender, their row, the reply language."""

    def __init__(self, services: Services, session: Session, sms: InboundSms) -> None:
        self.services = services
        self.session = session
        self.sms = sms
        self.replies = services.replies
        self.now = services.clock()
        self.phone = ""
        self.subscriber: Subscriber | None = None
        self.lang: Lang = services.settings.service.default_lang

    @property
    def sender_key(self) -> str:
        """The sender as its messages are stored: E.164, or as the provider spelt a number
        this service cannot text (so that its automatic replies are counted too)."""
        return self.phone or self.sms.sender[:16]

    def run(self) -> TurnOutcome:
        try:
            self.phone = parse_phone(self.sms.sender, self.services.settings.service.region)
        except InvalidPhone:
            return self.automatic(NOT_FOR_US, lambda: self.say("not_canadian"))
        # Most first texts come from strangers: a cheap id lookup spares them the ORM load.
        known = self.session.connection().execute(_SELECT_SUBSCRIBER, {"phone": self.phone})
        if known.first() is not None:
            self.subscriber = store.subscriber_by_phone(self.session, self.phone, for_update=True)
        if self.subscriber is not None:
            self.lang = as_lang(self.subscriber.lang)
        if self.sms.opt_out_type:
            return self.provider_opt_out(self.sms.opt_out_type.upper())
        command = keywords.parse(self.sms.body)
        chosen = getattr(command, "lang", None)
        if chosen is not None and not isinstance(command, keywords.Language):
            self.use_language(chosen)
        return self.dispatch(command)

    # -- the commands ---------------------------------------------------------------------

    def dispatch(self, command: keywords.Command) -> TurnOutcome:
        if self.opted_out() and not isinstance(command, _ANSWERED_AFTER_OPT_OUT):
            # Nothing is sent to an opted-out number but what it asks for by keyword: help,
            # a way back, its data forgotten, or the opt-out confirmed again.
            return TurnOutcome(None, "ignored_opted_out")
        match command:
            case keywords.Stop():
                return self.stop(command)
            case keywords.Start():
                return self.start()
            case keywords.Help(lang=lang):
                return self.help(lang)
            case keywords.Subscribe(place=place):
                if not place:
                    return TurnOutcome(self.say("ask_place"), "ask_place")
                asked = self.requests.ask(place, strict=True)
                assert asked is not None  # strict: a place not found is answered, not None
                return asked
            case keywords.Yes():
                return self.yes()
            case keywords.No():
                return self.no()
            case keywords.Choose(number=number):
                return self.requests.choose(number) or self.auto_help()
            case keywords.ListZones():
                return self.list_zones()
            case keywords.TopicOn(topic=topic):
                return self.topic_on(topic)
            case keywords.Language(lang=lang):
                return self.language(lang)
            case keywords.Forget():
                return self.forget()
            case keywords.Text(text=text):
                if text.strip():
                    found = self.requests.ask(text, strict=False)
                    if found is not None:
                        return found
                return self.auto_help()
        raise AssertionError(f"unhandled command {command!r}")

    def stop(self, command: keywords.Stop) -> TurnOutcome:
        active = self.subscriber is not None and self.subscriber.status != OPTED_OUT
        if command.topic and active:
            return self.topic_off(command.topic)
        if command.rest and active:
            removed = self.remove_zone(command.rest)
            if removed is not None:
                return removed
        self.opt_out()
        return TurnOutcome(self.say("opted_out"), "opt_out")

    def start(self) -> TurnOutcome:
        if self.opted_out():
            return self.resume()
        if self.subscriber is not None and self.zone_names():
            return TurnOutcome(
                self.say("already", zones=self.zones_text(), topics=self.topics_text()), "already"
            )
        return TurnOutcome(self.say("ask_place"), "ask_place")

    def yes(self) -> TurnOutcome:
        confirmed = self.requests.confirm()
        if confirmed is not None:
            return confirmed
        if self.opted_out():
            return self.resume()
        return TurnOutcome(self.say("nothing_pending"), "nothing_pending")

    def no(self) -> TurnOutcome:
        declined = self.requests.decline()
        if declined is not None:
            return declined
        return TurnOutcome(self.say("nothing_pending"), "nothing_pending")

    def help(self, lang: Lang | None) -> TurnOutcome:
        if lang is None and self.subscriber is None:
            return TurnOutcome(self.say("info"), "help")  # INFO from a stranger: both languages
        return TurnOutcome(self.say("help", lang=lang or self.lang), "help")

    def list_zones(self) -> TurnOutcome:
        if self.subscriber is None or not self.zone_names():
            return TurnOutcome(self.say("no_zones"), "list")
        return TurnOutcome(
            self.say("zones_list", zones=self.zones_text(), topics=self.topics_text()), "list"
        )

    def topic_off(self, topic: str) -> TurnOutcome:
        assert self.subscriber is not None
        setattr(self.subscriber, f"topic_{topic}", False)
        self.touch()
        keyword = self.replies.word(self.lang, f"keyword_{topic}")
        return TurnOutcome(
            self.say("topic_off", topic=self.topic_name(topic), keyword=keyword),
            f"topic_off_{topic}",
        )

    def topic_on(self, topic: str) -> TurnOutcome:
        if self.subscriber is None or self.subscriber.status == OPTED_OUT:
            return TurnOutcome(self.say("ask_place"), "ask_place")
        setattr(self.subscriber, f"topic_{topic}", True)
        self.touch()
        zones = self.zones_text()
        return TurnOutcome(
            self.say("topic_on", topic=self.topic_name(topic), zones=zones), f"topic_on_{topic}"
        )

    def remove_zone(self, text: str) -> TurnOutcome | None:
        assert self.subscriber is not None and self.subscriber.id is not None
        mine = store.subscriptions_of(self.session, self.subscriber.id)
        try:
            zone = self.services.zones.layer().find(text)
        except Exception:  # not a zone name at all: the STOP is a full opt-out
            return None
        for subscription, name in mine:
            if name == zone.name:
                self.session.delete(subscription)
                self.session.flush()
                self.touch()
                rest = self.zones_text()
                return TurnOutcome(
                    self.say("zone_removed", zone=zone.name, zones=rest), "zone_removed"
                )
        return None

    def language(self, lang: Lang) -> TurnOutcome:
        self.use_language(lang)
        if self.subscriber is None:
            return TurnOutcome(self.say("language_unknown"), f"language_{lang}")
        return TurnOutcome(self.say("language"), f"language_{lang}")

    def forget(self) -> TurnOutcome:
        # Subscriber or not: a number that only ever texted an address is forgotten too.
        store.forget_phone(self.session, self.phone, self.now)
        self.subscriber = None
        return TurnOutcome(self.say("forgotten"), "forget")

    def auto_help(self) -> TurnOutcome:
        return self.automatic(AUTO_HELP, lambda: self.say("help"))

    def automatic(self, action: str, reply: Callable[[], str]) -> TurnOutcome:
        """An automatic reply, or silence once this sender had its hourly share of them."""
        limit = self.services.settings.sms.max_auto_replies_per_hour
        since = self.now - timedelta(hours=1)
        sent = self.session.execute(
            select(func.count())
            .select_from(InboundMessage)
            .where(
                col(InboundMessage.from_phone) == self.sender_key,
                col(InboundMessage.action).in_(AUTOMATIC),
                col(InboundMessage.received_at) >= since,
            )
        ).scalar_one()
        if sent >= limit:
            return TurnOutcome(None, f"{action}_silenced")
        return TurnOutcome(reply(), action)

    def provider_opt_out(self, kind: str) -> TurnOutcome:
        """Twilio's Advanced Opt-Out already answered: record the change, reply nothing."""
        if kind == "STOP":
            self.opt_out()
            return TurnOutcome(None, "provider_opt_out")
        if kind == "START":
            if self.opted_out():
                self.resume()
            return TurnOutcome(None, "provider_opt_in")
        return TurnOutcome(None, "provider_help")

    # -- state changes ---------------------------------------------------------------------

    def opt_out(self) -> None:
        store.suppress(self.session, self.phone, "opt_out", self.now)
        if self.subscriber is not None:
            self.subscriber.status = OPTED_OUT
            self.subscriber.opted_out_at = self.now
            self.subscriber.pending_state = None
            self.touch()

    def resume(self) -> TurnOutcome:
        store.lift_suppression(self.session, self.phone)
        if self.subscriber is None:
            return TurnOutcome(self.say("resumed_empty"), "resume")
        has_active = any(s.status == ACTIVE for s, _ in self.subscriptions())
        self.subscriber.status = ACTIVE if has_active else PENDING
        self.subscriber.opted_out_at = None
        self.touch()
        if not has_active:
            return TurnOutcome(self.say("resumed_empty"), "resume")
        return TurnOutcome(self.say("resumed", zones=self.zones_text()), "resume")

    def use_language(self, lang: Lang) -> None:
        self.lang = lang
        if self.subscriber is not None and self.subscriber.lang != lang:
            self.subscriber.lang = lang
            self.touch()

    def touch(self) -> None:
        assert self.subscriber is not None
        self.subscriber.updated_at = self.now
        self.session.add(self.subscriber)

    def opted_out(self) -> bool:
        if self.subscriber is not None and self.subscriber.status == OPTED_OUT:
            return True
        return store.suppression_for(self.session, self.phone) is not None

    # -- wording ---------------------------------------------------------------------------

    @cached_property
    def requests(self) -> SubscriptionRequests:
        return SubscriptionRequests(self)

    def say(self, name: str, lang: Lang | None = None, **values: str) -> str:
        return self.replies.text(lang or self.lang, name, **values)

    def subscriptions(self) -> list[tuple[Subscription, str | None]]:
        if self.subscriber is None or self.subscriber.id is None:
            return []
        return store.subscriptions_of(self.session, self.subscriber.id)

    def zone_names(self) -> list[str]:
        return [name for s, name in self.subscriptions() if name and s.status == ACTIVE]

    def zones_text(self) -> str:
        return ", ".join(self.zone_names()) or self.replies.word(self.lang, "none")

    def topic_name(self, topic: str) -> str:
        return self.replies.word(self.lang, f"topic_{topic}")

    def topics_text(self) -> str:
        assert self.subscriber is not None
        names = [self.topic_name(t) for t in self.subscriber.topics]
        return ", ".join(names) or self.replies.word(self.lang, "none")
