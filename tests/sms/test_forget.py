"""OUBLIER / FORGET, by text and by an operator: every message of the number goes, subscriber
or not; only the suppression record stays. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import select

from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import InboundSms, TurnOutcome
from alerts.storage.models import InboundMessage, Subscriber, Subscription, Suppression
from alerts.subscribers.subscribers import forget_subscriber, show_subscriber
from alerts.wiring import Services

STRANGER = "+14185550177"  # texts an address, never confirms anything
NEIGHBOUR = "+14185550178"  # a subscriber whose messages must stay
ADDRESS = "1090 ch. du Lac-Doré"
_sids = itertools.count(1)


@pytest.fixture
def town(services: Services) -> Services:
    """The demo town's layer and addresses."""
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
    from alerts.places.layers import import_addresses, import_zones

    import_zones(services, str(DEMO_LAYER))
    import_addresses(services, DEMO_ADDRESSES)
    return services


def text(services: Services, sender: str, body: str) -> TurnOutcome:
    sid = f"SMforget{next(_sids):026d}"
    return handle_inbound(services, InboundSms(sender=sender, body=body, message_sid=sid))


def messages(services: Services) -> list[tuple[str, str]]:
    with services.session(read_only=True) as session:
        rows = session.exec(select(InboundMessage.from_phone, InboundMessage.body)).all()
    return [(phone, body) for phone, body in rows]


def texts_without_subscribing(services: Services) -> None:
    """A stranger who only ever texted places: nothing subscribed, every message stored."""
    text(services, NEIGHBOUR, "ABONNER Saint-Éloi")
    text(services, NEIGHBOUR, "OUI")
    assert text(services, STRANGER, f"{ADDRESS} svp c'est chez moi").action != "forget"
    text(services, STRANGER, "abonner Atlantide")
    text(services, STRANGER, "NON")
    with services.session(read_only=True) as session:
        phones = session.exec(select(Subscriber.phone)).all()
    assert phones == [NEIGHBOUR]
    assert sum(phone == STRANGER for phone, _ in messages(services)) == 3


def assert_forgotten(services: Services) -> None:
    kept = messages(services)
    assert not any(STRANGER in phone or ADDRESS in body for phone, body in kept), kept
    assert sum(phone == NEIGHBOUR for phone, _ in kept) == 2  # nobody else's messages go
    with services.session(read_only=True) as session:
        assert session.exec(select(Suppression.phone, Suppression.reason)).all() == [
            (STRANGER, "forgotten")
        ]
        assert len(session.exec(select(Subscription)).all()) == 1  # the neighbour's
    assert show_subscriber(services, STRANGER).status == "opted_out"


@pytest.mark.parametrize("word", ["OUBLIER", "forget"])
def test_forget_by_text_erases_the_messages_of_a_number_never_subscribed(
    town: Services, word: str
) -> None:
    texts_without_subscribing(town)
    outcome = text(town, STRANGER, word)
    assert outcome.action == "forget"
    assert_forgotten(town)
    # The forget message itself is kept only as the fact of a reply, without number or text.
    assert ("", "") in messages(town)


def test_forget_by_an_operator_erases_the_messages_of_a_number_never_subscribed(
    town: Services,
) -> None:
    texts_without_subscribing(town)
    assert forget_subscriber(town, "418 555 0177") is False  # not a subscriber...
    assert_forgotten(town)  # ...but forgotten all the same


def test_forget_of_a_subscriber_erases_the_messages_from_before_and_after_opting_out(
    town: Services,
) -> None:
    text(town, NEIGHBOUR, "ABONNER Saint-Éloi")
    text(town, NEIGHBOUR, "OUI")
    text(town, STRANGER, f"ABONNER {ADDRESS}")
    text(town, STRANGER, "OUI")
    text(town, STRANGER, "STOP")
    assert text(town, STRANGER, "mon adresse est 1090 ch. du Lac-Doré").reply is None
    assert text(town, STRANGER, "OUBLIER").action == "forget"
    assert_forgotten(town)
