"""Inbound SMS bodies in French and English -> commands; parse never raises; imports stay pure."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.core.keywords import (
    KEYWORDS_HELP,
    KEYWORDS_START,
    KEYWORDS_STOP,
    Choose,
    Command,
    Forget,
    Help,
    Language,
    ListZones,
    No,
    Start,
    Stop,
    Subscribe,
    Text,
    TopicOn,
    Yes,
    normalize,
    parse,
)

COMMAND_TYPES = (
    Subscribe,
    Stop,
    Start,
    Yes,
    No,
    Choose,
    Help,
    ListZones,
    TopicOn,
    Language,
    Forget,
    Text,
)

CASES: list[tuple[str, Command]] = [
    # Opt-out: the carriers' words, any case, punctuation or emoji around them.
    ("STOP", Stop()),
    ("stop", Stop()),
    ("Stop!!", Stop()),
    ("stop \U0001f64f", Stop()),
    (" STOP. ", Stop()),
    ("\u200fSTOP\u200f", Stop()),
    ("\uff33\uff34\uff2f\uff30", Stop()),  # full-width letters
    ("stop\x00", Stop()),
    ("S T O P", Text("S T O P")),
    ("STOPALL", Stop(keyword="STOPALL")),
    ("stopall radar", Stop(keyword="STOPALL")),
    ("UNSUBSCRIBE", Stop(lang="en", keyword="UNSUBSCRIBE")),
    ("Cancel", Stop(lang="en", keyword="CANCEL")),
    ("quit", Stop(lang="en", keyword="QUIT")),
    ("REVOKE", Stop(lang="en", keyword="REVOKE")),
    ("OPTOUT", Stop(lang="en", keyword="OPTOUT")),
    ("opt-out", Stop(lang="en", keyword="OPT OUT")),
    ("Opt out please", Stop(rest="please", lang="en", keyword="OPT OUT")),
    ("ARR\u00caT", Stop(lang="fr", keyword="ARRET")),
    ("arret", Stop(lang="fr", keyword="ARRET")),
    ("Arr\u00eate!", Stop(lang="fr", keyword="ARRETE")),
    ("arr\u00eater", Stop(lang="fr", keyword="ARRETER")),
    ("D\u00e9sabonner", Stop(lang="fr", keyword="DESABONNER")),
    ("me d\u00e9sabonner", Text("me d\u00e9sabonner")),
    ("se d\u00e9sabonner", Stop(lang="fr", keyword="SE DESABONNER")),
    ("Fin", Stop(lang="fr", keyword="FIN")),
    ("FIN.", Stop(lang="fr", keyword="FIN")),
    # Opt-out of one topic.
    ("STOP RADAR", Stop(topic="radar")),
    ("stop photo-radar", Stop(topic="radar")),
    ("Stop photo radar svp", Stop(topic="radar")),
    ("stop les radars", Stop(topic="radar")),
    ("ARR\u00caT NEIGE", Stop(topic="snow", lang="fr", keyword="ARRET")),
    ("arr\u00eat du d\u00e9neigement", Stop(topic="snow", lang="fr", keyword="ARRET")),
    ("d\u00e9sabonner radar", Stop(topic="radar", lang="fr", keyword="DESABONNER")),
    ("STOP snow removal", Stop(topic="snow")),
    ("stop snow alerts please", Stop(topic="snow")),
    # Opt-out with a rest the conversation checks against the subscriber's zones.
    ("stop saint-roch", Stop(rest="saint-roch")),
    ("STOP: Saint-Sauveur, Limoilou", Stop(rest="Saint-Sauveur, Limoilou")),
    ("arr\u00eat Vieux-Qu\u00e9bec", Stop(rest="Vieux-Qu\u00e9bec", lang="fr", keyword="ARRET")),
    ("stop radar neige", Stop(rest="radar neige")),
    ("end of the street", Stop(rest="of the street", lang="en", keyword="END")),
    ("Fin de semaine", Stop(rest="de semaine", lang="fr", keyword="FIN")),
    ("please stop", Text("please stop")),
    # Help, in both languages; must always be answered.
    ("AIDE", Help("fr")),
    ("aide svp", Help("fr")),
    ("Aidez-moi", Help("fr")),
    ("HELP", Help("en")),
    ("help!", Help("en")),
    ("Info", Help(None)),
    ("INFOS", Help(None)),
    ("info radar", Help(None)),
    ("?", Help(None)),
    (" ?? ", Help(None)),
    ("\u00bf?", Help(None)),
    # Opt back in.
    ("START", Start(None)),
    ("Start.", Start(None)),
    ("unstop", Start("en")),
    ("RESUME", Start("en")),
    ("Reprendre", Start("fr")),
    ("start 1445 maguire", Text("start 1445 maguire")),
    # Yes and No.
    ("yes", Yes("en")),
    ("YES please", Yes("en")),
    ("Oui!", Yes("fr")),
    ("oui merci \U0001f642", Yes("fr")),
    ("OUI", Yes("fr")),
    ("Ouais", Yes("fr")),
    ("d\u2019accord", Yes("fr")),
    ("OK", Yes(None)),
    ("ok.", Yes(None)),
    ("Y", Yes("en")),
    ("y a-t-il un radar?", Text("y a-t-il un radar?")),
    ("o", Text("o")),
    ("no", No("en")),
    ("NON", No("fr")),
    ("non merci", No("fr")),
    ("Nope", No("en")),
    ("N", No(None)),
    ("No 5 rue Saint-Jean", Text("No 5 rue Saint-Jean")),
    # Choosing from a numbered list.
    ("2", Choose(2)),
    (" 2. ", Choose(2)),
    ("#2", Choose(2)),
    ("2\ufe0f\u20e3", Choose(2)),
    ("(9)", Choose(9)),
    ("0", Text("0")),
    ("10", Text("10")),
    ("2 3", Text("2 3")),
    # Listing one's zones.
    ("QUARTIERS", ListZones("fr")),
    ("quartier", ListZones("fr")),
    ("Mes quartiers?", ListZones("fr")),
    ("liste", ListZones("fr")),
    ("Zones", ListZones(None)),
    ("LIST", ListZones("en")),
    ("my zones", ListZones("en")),
    ("Quartier Saint-Roch", Text("Quartier Saint-Roch")),
    # Turning a topic back on.
    ("RADAR", TopicOn("radar", None)),
    ("photo-radar", TopicOn("radar", None)),
    ("Neige", TopicOn("snow", "fr")),
    ("D\u00c9NEIGEMENT", TopicOn("snow", "fr")),
    ("snow", TopicOn("snow", "en")),
    ("Snow removal!", TopicOn("snow", "en")),
    # Language.
    ("fran\u00e7ais", Language("fr")),
    ("FRANCAIS", Language("fr")),
    ("French", Language("fr")),
    ("english", Language("en")),
    ("Anglais", Language("en")),
    ("langue en", Language("en")),
    ("LANGUE FR", Language("fr")),
    ("language: fr", Language("fr")),
    ("lang fr", Language("fr")),
    ("EN", Language("en")),
    ("fr", Language("fr")),
    # Forgetting one's data.
    ("oublier", Forget("fr")),
    ("Oubliez-moi", Forget("fr")),
    ("oubliez moi", Forget("fr")),
    ("FORGET", Forget("en")),
    ("forget me", Forget("en")),
    ("delete", Forget("en")),
    ("Delete me!", Forget("en")),
    ("delete saint-roch", Text("delete saint-roch")),
    # Subscribing, with the place kept as typed.
    ("abonner 1445 av. Maguire", Subscribe("1445 av. Maguire", "fr")),
    ("ABONNER", Subscribe("", "fr")),
    ("Abonnement: Limoilou", Subscribe("Limoilou", "fr")),
    ("inscription - 10, rue des Jardins", Subscribe("10, rue des Jardins", "fr")),
    ("S\u2019abonner Saint-Roch", Subscribe("Saint-Roch", "fr")),
    ("abonne-moi \u00e0 Saint-Roch", Subscribe("\u00e0 Saint-Roch", "fr")),
    ("inscrire   Cap-Rouge\n", Subscribe("Cap-Rouge", "fr")),
    ("subscribe 1445 Maguire Ave", Subscribe("1445 Maguire Ave", "en")),
    ("JOIN Montcalm", Subscribe("Montcalm", "en")),
    ("sign up 10 rue des Jardins", Subscribe("10 rue des Jardins", "en")),
    ("Sign-up", Subscribe("", "en")),
    ("signup \U0001f3e0", Subscribe("", "en")),
    (
        "SUBSCRIBE https://maps.google.com/?q=46.8,-71.2",
        Subscribe("https://maps.google.com/?q=46.8,-71.2", "en"),
    ),
    # Anything else: a place without keyword, or noise.
    ("1445 av. Maguire", Text("1445 av. Maguire")),
    ("  1445   av.\tMaguire ", Text("1445 av. Maguire")),
    ("Saint-Roch", Text("Saint-Roch")),
    ("Limoilou\n", Text("Limoilou")),
    ("https://maps.app.goo.gl/AbC123", Text("https://maps.app.goo.gl/AbC123")),
    ("46.8139, -71.2080", Text("46.8139, -71.2080")),
    ("Bonjour, je veux les alertes", Text("Bonjour, je veux les alertes")),
    ("", Text("")),
    ("   ", Text("")),
    ("\U0001f64f\U0001f64f", Text("")),
    ("\U0001f44d", Text("")),
    ("!!!", Text("")),
    ("...", Text("")),
    ("\x00\x00", Text("")),
    ("\u200f\u200e", Text("")),
    ("caf\u00e9\x00 du\u200f monde", Text("caf\u00e9 du monde")),
]


@pytest.mark.parametrize(("body", "expected"), CASES, ids=[repr(body) for body, _ in CASES])
def test_parse(body: str, expected: Command) -> None:
    assert parse(body) == expected


def test_decomposed_accents_match_keywords() -> None:
    assert parse("ARRE\u0302T") == Stop(lang="fr", keyword="ARRET")
    assert parse("de\u0301neigement") == TopicOn("snow", "fr")
    # Free text comes back composed, as geocoders and GSM-7 expect.
    assert parse("Vieux-Que\u0301bec") == Text("Vieux-Qu\u00e9bec")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Arr\u00eat!", "ARRET"),
        ("  oubliez-moi  ", "OUBLIEZ MOI"),
        ("\u0152uvre \u00e6 stra\u00dfe", "OEUVRE AE STRASSE"),
        ("stop \U0001f64f\ufe0f", "STOP"),
        ("1445, av. Maguire", "1445 AV MAGUIRE"),
        ("\x00\u200f", ""),
        ("D\u00c9NEIGEMENT\u2014Limoilou", "DENEIGEMENT LIMOILOU"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_keyword_sets() -> None:
    twilio_opt_out = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    assert twilio_opt_out <= KEYWORDS_STOP
    assert {"ARRET", "FIN", "DESABONNER"} <= KEYWORDS_STOP
    assert {"START", "UNSTOP"} <= KEYWORDS_START
    assert {"HELP", "AIDE", "INFO"} <= KEYWORDS_HELP
    for word in KEYWORDS_STOP | KEYWORDS_START | KEYWORDS_HELP:
        assert normalize(word) == word


@pytest.mark.parametrize("word", sorted(KEYWORDS_STOP))
def test_every_stop_word_opts_out(word: str) -> None:
    assert isinstance(parse(word.lower() + "!"), Stop)


@pytest.mark.parametrize("word", sorted(KEYWORDS_HELP))
def test_every_help_word_asks_for_help(word: str) -> None:
    assert isinstance(parse(word.capitalize()), Help)


def test_huge_body() -> None:
    body = ("1445 av. Maguire \U0001f3e0\x00\u200f " * 200)[:5000]
    result = parse(body)
    assert isinstance(result, Text)
    assert "\x00" not in result.text
    assert isinstance(parse("STOP " + "x" * 100_000), Stop)


@given(st.text())
def test_parse_never_raises(body: str) -> None:
    assert isinstance(parse(body), COMMAND_TYPES)


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "P", "So"])))
def test_noise_is_empty_text_or_help(body: str) -> None:
    assert parse(body) in (Text(""), Help(None))


@given(st.text(alphabet=st.characters(categories=["P", "So", "Sk", "Zs", "Cc", "Cf", "Mn"])))
def test_stop_with_punctuation_or_emoji_is_a_full_opt_out(noise: str) -> None:
    assert parse("STOP" + noise) == Stop()
    assert parse(noise + " stop " + noise) == Stop()


@given(st.text())
def test_free_text_is_clean(body: str) -> None:
    result = parse(body)
    for text in (
        getattr(result, "text", ""),
        getattr(result, "place", ""),
        getattr(result, "rest", ""),
    ):
        assert text == text.strip()
        assert not any(ch in text for ch in "\x00\n\r\t\u200f\u200e")


@given(st.text(alphabet=string.printable, max_size=40))
def test_parse_ignores_case(body: str) -> None:
    upper, lower = parse(body.upper()), parse(body.lower())
    assert type(upper) is type(lower)
    assert getattr(upper, "lang", None) == getattr(lower, "lang", None)
