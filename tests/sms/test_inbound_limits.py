"""What the conversation takes in and gives out of its own accord: texts cleaned of control
characters before they are stored, texts no provider sends refused, and one hourly limit for
every automatic reply, numbers this service cannot text included."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlmodel import select

from alerts.config import Settings
from alerts.errors import InvalidInput
from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import InboundSms, TurnOutcome, plain_text
from alerts.storage.models import InboundMessage
from alerts.subscribers.subscribers import show_subscriber
from alerts.wiring import Services
from tests.support.public import Clock, public_services

_sids = itertools.count(1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def town(settings: Settings, clock: Clock) -> Iterator[Services]:
    """The demo town (Val-Givré) on the test database, with a hand-moved clock."""
    services = public_services(settings, clock)
    yield services
    services.close()


def text(services: Services, body: str, sender: str = "+14185550123", **extra: str) -> TurnOutcome:
    sid = extra.pop("sid", None) or f"SM{next(_sids):032x}"
    return handle_inbound(services, InboundSms(sender=sender, body=body, message_sid=sid, **extra))


def stored(services: Services) -> list[tuple[str, str, str]]:
    with services.session(read_only=True) as session:
        rows = session.exec(select(InboundMessage).order_by(InboundMessage.id)).all()  # type: ignore[arg-type]
    return [(row.from_phone, row.body, row.action) for row in rows]


@pytest.mark.parametrize("sender", ["+33 6 12 34 56 78", "+1 800 555 0199", "+44\x007700900123"])
def test_numbers_this_service_cannot_text_share_the_automatic_reply_limit(
    town: Services, clock: Clock, sender: str
) -> None:
    # A foreign or toll-free number (an auto-responder, say) gets the "Canadian numbers only"
    # reply at most max_auto_replies_per_hour times an hour, like the automatic help.
    outcomes = [text(town, body, sender) for body in ("bonjour", "STOP", "AIDE") * 3]
    assert [o.action for o in outcomes] == ["invalid_sender"] * 5 + ["invalid_sender_silenced"] * 4
    assert all("canadiens" in (o.reply or "") for o in outcomes[:5])
    assert all(o.reply is None for o in outcomes[5:])
    canadian = text(town, "bonjour", "+14185550123")  # another sender has its own count
    assert canadian.action == "unknown" and canadian.reply
    clock.advance(minutes=61)
    assert text(town, "bonjour", sender).action == "invalid_sender"


def test_the_limit_counts_every_automatic_reply_of_a_sender(town: Services) -> None:
    actions = [text(town, f"qwerty {n}").action for n in range(4)]
    actions += [text(town, "9").action for _ in range(2)]  # a choice with no list: the help
    actions.append(text(town, "asdf").action)
    assert actions == ["unknown"] * 5 + ["unknown_silenced"] * 2
    assert text(town, "AIDE").action == "help"  # keywords are still answered


def test_control_characters_never_reach_storage(town: Services) -> None:
    asked = text(town, "abonner\t1090 ch. du\x00 Lac-Doré\x1b\r\n", "+1 418 555\x00 0123")
    assert asked.action == "confirm_requested" and "Lac-Doré" in (asked.reply or "")
    text(town, "OUI\x00\x7f\x9b")
    text(town, "bonjour \ud800")  # a lone surrogate, as JSON can carry one
    assert stored(town) == [
        ("+14185550123", "abonner\t1090 ch. du Lac-Doré\n", "confirm_requested"),
        ("+14185550123", "OUI", "subscribed"),
        ("+14185550123", "bonjour \ufffd", "unknown"),
    ]
    assert show_subscriber(town, "4185550123").zones == ["Lac-Doré"]


def test_a_nul_only_text_is_an_empty_one(town: Services) -> None:
    assert text(town, "\x00\x00").action == "unknown"
    assert stored(town) == [("+14185550123", "", "unknown")]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"body": "a" * 1601}, "the text is longer than 1600"),
        ({"sender": "+1418555" + "0" * 30}, "the sender is longer than 32"),
        ({"message_sid": "SM" + "0" * 63}, "the MessageSid is longer than 64"),
        ({"message_sid": "\x00"}, "no MessageSid"),
        ({"opt_out_type": "STOP" * 5}, "the OptOutType is longer than 16"),
    ],
)
def test_texts_no_provider_sends_are_refused(
    town: Services, fields: dict[str, str], problem: str
) -> None:
    message = {"sender": "+14185550123", "body": "AIDE", "message_sid": "SM" + "1" * 32, **fields}
    with pytest.raises(InvalidInput, match=problem) as refused:
        handle_inbound(town, InboundSms(**message))
    assert "4185550123" not in str(refused.value)  # names the field, never its value
    assert stored(town) == []


def test_plain_text_keeps_newlines_tabs_and_letters() -> None:
    assert plain_text("a\r\nb\rc\td\x00e\x85f\u2028g é 🙂") == "a\nb\nc\tdef\u2028g é 🙂"
