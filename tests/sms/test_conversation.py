"""The SMS conversation, end to end through handle_inbound, in French and English."""

from __future__ import annotations

import csv
import itertools
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from alerts.config import Settings
from alerts.core.messages import segment_info
from alerts.errors import NotFound
from alerts.places.layers import import_addresses, import_zones
from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import InboundSms, TurnOutcome
from alerts.storage.models import InboundMessage, Subscriber, Subscription, Suppression
from alerts.subscribers.subscribers import SubscriberView, show_subscriber
from alerts.wiring import Services, build
from tests.support.shared_data import DATA

QUEBEC = DATA / "quebec"  # every test asks for `city`, which asks for the shared_data fixture
VIEUX_QUEBEC = "Vieux-Québec—Cap-Blanc—Colline parlementaire"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def city(settings: Settings, shared_data: Path) -> Iterator[tuple[Services, Clock]]:
    clock = Clock()
    services = build(settings, clock=clock)
    import_zones(services, str(QUEBEC / "vdq-quartier.geojson"))
    import_addresses(services, QUEBEC / "quebec_address_points.csv")
    yield services, clock
    services.close()


_sids = itertools.count(1)


def text(services: Services, body: str, sender: str = "418 555 0123", **extra: str) -> TurnOutcome:
    """Send one text as Twilio would and check the reply is one SMS segment."""
    sid = extra.pop("sid", None) or f"SM{next(_sids):032d}"
    outcome = handle_inbound(
        services, InboundSms(sender=sender, body=body, message_sid=sid, **extra)
    )
    if outcome.reply is not None:
        info = segment_info(outcome.reply)
        assert info.segments == 1, (body, outcome.reply, info)
    return outcome


def state(services: Services, phone: str = "418 555 0123") -> SubscriberView:
    return show_subscriber(services, phone)


def _strip(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", value) if not unicodedata.combining(c))


def _messy(number: str, street: str, n: int) -> tuple[str, str]:
    """A resident's spelling of an address, and the keyword language it goes with."""
    kind, _, name = street.partition(" ")
    short = {"Boulevard": "boul.", "Avenue": "av.", "Rue": "rue", "Chemin": "ch.", "Route": "rte"}
    english = {"Boulevard": "Blvd", "Avenue": "Ave", "Rue": "St", "Chemin": "Road", "Route": "Rte"}
    if kind not in short:
        return f"{number} {street}".lower(), "fr"
    variants = [
        (f"{number} {short[kind]} {name}", "fr"),
        (f"{number}, {_strip(street).lower()}, Québec", "fr"),
        (f"{number} {_strip(name)} {english[kind]}", "en"),
        (f"{number} {street.upper()}", "fr"),
    ]
    return variants[n % len(variants)]


def _sample_addresses(count: int) -> list[dict[str, str]]:
    with (QUEBEC / "quebec_address_points.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    seen: set[tuple[str, str]] = set()
    picked = []
    for row in rows[::7]:
        key = (row["NO_CIVIQUE"], row["RUE"])
        if key not in seen:
            seen.add(key)
            picked.append(row)
    return picked[:count]


def test_messy_addresses_subscribe_to_the_right_quartier(city: tuple[Services, Clock]) -> None:
    services, _ = city
    rows = _sample_addresses(40)
    right = 0
    for n, row in enumerate(rows):
        phone = f"+1418555{n:04d}"
        address, lang = _messy(row["NO_CIVIQUE"], row["RUE"], n)
        keyword = "SUBSCRIBE" if lang == "en" else "abonner"
        asked = text(services, f"{keyword} {address}", phone)
        if asked.action == "choose_requested":
            asked = text(services, "1", phone)
        if asked.action != "confirm_requested":
            continue
        confirmed = text(services, "yes" if lang == "en" else "OUI", phone)
        assert confirmed.action == "subscribed"
        view = state(services, phone)
        assert view.status == "active" and view.lang == lang
        right += view.zones == [row["quartier_pip"]]
    assert right >= 0.95 * len(rows), f"{right}/{len(rows)}"


@pytest.mark.parametrize(
    ("body", "zone", "lang"),
    [
        ("ABONNER Saint-Roch", "Saint-Roch", "fr"),
        ("inscription st-sauveur", "Saint-Sauveur", "fr"),
        ("Join Vieux-Quebec", VIEUX_QUEBEC, "en"),
        ("abonner Neufchâtel", "Neufchatel Est—Lebourgneuf", "fr"),
        ("s'inscrire des chatels!", "Des Châtels", "fr"),
        ("SUBSCRIBE https://maps.google.com/?q=46.8123,-71.2060", VIEUX_QUEBEC, "en"),
        ("signup https://www.openstreetmap.org/#map=17/46.8123/-71.2060", VIEUX_QUEBEC, "en"),
        ("46.8123, -71.2060", VIEUX_QUEBEC, "fr"),
        ("Lairet", "Lairet", "fr"),
    ],
)
def test_names_links_and_coordinates(
    city: tuple[Services, Clock], body: str, zone: str, lang: str
) -> None:
    services, _ = city
    asked = text(services, body)
    assert asked.action == "confirm_requested"
    assert state(services).status == "pending"
    assert text(services, "Oui!" if lang == "fr" else "YES").action == "subscribed"
    view = state(services)
    assert (view.status, view.zones, view.lang, view.topics) == (
        "active",
        [zone],
        lang,
        ["snow", "radar"],
    )


def test_an_ambiguous_name_gets_a_numbered_list(city: tuple[Services, Clock]) -> None:
    services, _ = city
    asked = text(services, "abonner vieux")
    assert asked.action == "choose_requested" and "1 " in (asked.reply or "")
    listed = asked.reply or ""
    assert text(services, "7").action == "choose_requested"  # out of range: the list again
    picked = text(services, "#2")
    assert picked.action == "confirm_requested"
    assert text(services, "oui").action == "subscribed"
    second = listed.split("2 ", 1)[1].split(",")[0].split(".")[0].strip()
    assert state(services).zones[0].startswith(second.split("-")[0])


def test_home_and_work_and_the_list(city: tuple[Services, Clock]) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    text(services, "abonner Sillery")
    assert text(services, "oui").action == "subscribed"
    listed = text(services, "quartiers")
    assert "Saint-Roch" in (listed.reply or "") and "Sillery" in (listed.reply or "")
    assert state(services).zones == ["Saint-Roch", "Sillery"]
    assert text(services, "abonner saint-roch").action == "already"


def test_no_declines_and_forgets_a_stranger(city: tuple[Services, Clock]) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    assert text(services, "NON").action == "declined"
    with pytest.raises(NotFound):
        state(services)
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    text(services, "abonner Sillery")
    assert text(services, "no").action == "declined"
    assert state(services).zones == ["Saint-Roch"]


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "Stop!!",
        " STOP. ",
        "stop 🙏",
        "arrêt",
        "ARRÊT",
        "Arret.",
        "arrete",
        "fin",
        "Désabonner",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "revoke",
        "OPTOUT",
        "stop Atlantis",
    ],
)
def test_every_opt_out_word_opts_out_of_everything(city: tuple[Services, Clock], body: str) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    stopped = text(services, body)
    assert stopped.action == "opt_out"
    assert state(services).status == "opted_out"
    with services.session(read_only=True) as session:
        assert session.exec(select(Suppression)).one().reason == "opt_out"


@pytest.mark.parametrize("body", ["START", "unstop", "Yes", "OUI", "oui!"])
def test_resume_restores_previous_subscriptions(city: tuple[Services, Clock], body: str) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    text(services, "abonner Sillery")
    text(services, "oui")
    text(services, "STOP")
    resumed = text(services, body)
    assert resumed.action == "resume"
    view = state(services)
    assert (view.status, view.zones) == ("active", ["Saint-Roch", "Sillery"])
    with services.session(read_only=True) as session:
        assert session.exec(select(Suppression)).all() == []


def test_stop_is_honoured_for_numbers_never_subscribed(city: tuple[Services, Clock]) -> None:
    services, _ = city
    assert text(services, "STOP", "4185550188").action == "opt_out"
    with services.session(read_only=True) as session:
        assert session.exec(select(Suppression.phone)).all() == ["+14185550188"]
    assert state(services, "4185550188").status == "opted_out"


def test_an_opted_out_number_gets_answers_only_to_keywords(city: tuple[Services, Clock]) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    assert text(services, "ARRET").action == "opt_out"
    for chatter in ("bonjour", "RADAR", "liste", "Saint-Roch", "1"):
        outcome = text(services, chatter)
        assert (outcome.reply, outcome.action) == (None, "ignored_opted_out"), chatter
    assert state(services).status == "opted_out" and state(services).topics == ["snow", "radar"]
    assert "ARRET" in (text(services, "AIDE").reply or "")  # help is always answered
    assert text(services, "START").action == "resume"


@pytest.mark.parametrize(
    ("body", "lang", "bilingual"),
    [
        ("AIDE", "fr", False),
        ("aide!", "fr", False),
        ("HELP", "en", False),
        ("help?", "en", False),
        ("INFO", None, True),
        ("Info", None, True),
    ],
)
def test_help_words(
    city: tuple[Services, Clock], body: str, lang: str | None, bilingual: bool
) -> None:
    services, _ = city
    reply = text(services, body).reply or ""
    assert segment_info(reply).encoding == "GSM-7" and len(reply) <= 160
    assert "311" in reply
    if bilingual:
        assert "ABONNER" in reply and "SUBSCRIBE" in reply and "hiver" in reply
    elif lang == "fr":
        assert "ABONNER" in reply and "hiver" in reply and "ARRET" in reply
    else:
        assert "SUBSCRIBE" in reply and "winter" in reply and "STOP" in reply


def test_topics_off_and_on(city: tuple[Services, Clock]) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    assert text(services, "ARRET RADAR").action == "topic_off_radar"
    assert state(services).topics == ["snow"]
    assert text(services, "Arrêt neige").action == "topic_off_snow"
    assert state(services).topics == []
    assert state(services).status == "active"
    assert text(services, "radar").action == "topic_on_radar"
    assert text(services, "NEIGE").action == "topic_on_snow"
    assert state(services).topics == ["snow", "radar"]
    assert text(services, "unsubscribe snow").action == "topic_off_snow"
    assert state(services).lang == "en"


def test_stop_a_zone_removes_only_that_zone(city: tuple[Services, Clock]) -> None:
    services, _ = city
    for place in ("Saint-Roch", "Sillery"):
        text(services, f"abonner {place}")
        text(services, "oui")
    assert text(services, "ARRET st-roch").action == "zone_removed"
    view = state(services)
    assert (view.status, view.zones) == ("active", ["Sillery"])


@pytest.mark.parametrize(
    ("body", "lang"),
    [
        ("ENGLISH", "en"),
        ("anglais", "en"),
        ("LANGUAGE EN", "en"),
        ("Français", "fr"),
        ("francais", "fr"),
        ("langue fr", "fr"),
    ],
)
def test_language_changes(city: tuple[Services, Clock], body: str, lang: str) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch" if lang == "en" else "subscribe Saint-Roch")
    text(services, "oui")
    text(services, body)
    assert state(services).lang == lang


def test_forget_keeps_only_a_suppression(city: tuple[Services, Clock]) -> None:
    services, _ = city
    text(services, "abonner 2280 av. Monseigneur-Gosselin")
    text(services, "oui")
    forgotten = text(services, "OUBLIER")
    assert forgotten.action == "forget"
    with services.session(read_only=True) as session:
        assert session.exec(select(Subscriber)).all() == []
        assert session.exec(select(Subscription)).all() == []
        assert session.exec(select(Suppression.reason)).all() == ["forgotten"]
        kept = session.exec(select(InboundMessage.from_phone, InboundMessage.body)).all()
    assert all(phone == "" and body == "" for phone, body in kept)
    assert state(services).status == "opted_out"


def test_unknown_texts_get_help_at_most_n_times_an_hour(city: tuple[Services, Clock]) -> None:
    services, clock = city
    actions = [text(services, f"qwerty {n}").action for n in range(7)]
    assert actions == ["unknown"] * 5 + ["unknown_silenced"] * 2
    assert text(services, "AIDE").action == "help"  # keywords are always answered
    clock.now += timedelta(minutes=61)
    assert text(services, "qwerty").action == "unknown"


def test_places_that_do_not_resolve_create_nothing(city: tuple[Services, Clock]) -> None:
    services, _ = city
    assert text(services, "abonner Atlantide").action == "not_found"
    assert text(services, "abonner").action == "ask_place"
    assert text(services, "abonner 45.5017,-73.5673").action == "outside"
    with services.session(read_only=True) as session:
        assert session.exec(select(Subscriber)).all() == []


def test_a_replayed_message_changes_nothing(city: tuple[Services, Clock]) -> None:
    services, _ = city
    first = text(services, "abonner Saint-Roch", sid="SMreplay0000000000000000000000000")
    text(services, "oui")
    text(services, "STOP")
    again = text(services, "abonner Saint-Roch", sid="SMreplay0000000000000000000000000")
    assert again.duplicate and again.reply == first.reply and again.action == first.action
    assert state(services).status == "opted_out"


def test_twilio_advanced_opt_out_is_recorded_without_a_second_reply(
    city: tuple[Services, Clock],
) -> None:
    services, _ = city
    text(services, "abonner Saint-Roch")
    text(services, "oui")
    stopped = text(services, "STOP", opt_out_type="STOP")
    assert stopped.reply is None and state(services).status == "opted_out"
    started = text(services, "START", opt_out_type="START")
    assert started.reply is None and state(services).status == "active"
    assert text(services, "HELP", opt_out_type="HELP").reply is None


def test_numbers_outside_the_region_get_a_clear_answer(city: tuple[Services, Clock]) -> None:
    services, _ = city
    outcome = text(services, "abonner Saint-Roch", "+33 6 12 34 56 78")
    assert outcome.action == "invalid_sender" and "canadiens" in (outcome.reply or "")


def test_logs_show_only_the_last_four_digits(
    city: tuple[Services, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    services, _ = city
    caplog.set_level("DEBUG")
    text(services, "abonner Saint-Roch", "418 555 0123")
    text(services, "oui", "418 555 0123")
    assert "0123" in caplog.text
    assert "4185550123" not in caplog.text and "555 0123" not in caplog.text


def test_requests_never_confirmed_are_forgotten(city: tuple[Services, Clock]) -> None:
    from alerts.sms.subscription_requests import forget_stale_requests

    services, clock = city
    text(services, "abonner Saint-Roch", "4185550111")  # a stranger who never answers
    text(services, "abonner Saint-Roch", "4185550112")
    text(services, "oui", "4185550112")
    text(services, "abonner Sillery", "4185550112")  # a second zone, never confirmed
    text(services, "STOP", "4185550113")
    clock.now += timedelta(days=8)
    assert forget_stale_requests(services) == 2
    with pytest.raises(NotFound):
        state(services, "4185550111")
    assert state(services, "4185550112").zones == ["Saint-Roch"]
    assert state(services, "4185550113").status == "opted_out"
    assert text(services, "oui", "4185550112").action == "nothing_pending"
