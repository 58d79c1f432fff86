"""Inbound SMS text -> a command: keywords in French and English, everything else as free text.

Pure: standard library only. Keywords are matched on a normalized form of the message (upper
case, no accents, punctuation or emoji), while the place or zone a resident typed is handed on
as the original text, because addresses need their digits, letters and punctuation.

Decisions worth knowing:
- STOP and its synonyms count when they are the first word (the carriers' rule), so "end of the
  street" is an opt-out with rest "of the street"; the conversation decides what the rest means.
- STOP, STOPALL, START, INFO, OK, N, RADAR and ZONES are used in both languages: lang is None.
- START, UNSTOP, RESUME and REPRENDRE are opt-ins only as the whole message.
- Twilio also treats YES as an opt-in; here it parses as Yes(en) and the conversation decides.
- Single letters: Y and N are accepted as the whole message (the "reply Y/N" habit); O is not,
  being too close to the digit 0. Yes and No also take polite words after them ("oui merci")
  but not digits, so "No 5 rue ..." (numéro) stays free text.
- FORGET/OUBLIER/DELETE only as the whole message, since they erase data.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeVar

Lang = Literal["fr", "en"]
Topic = Literal["snow", "radar"]
_V = TypeVar("_V")


def as_lang(value: str) -> Lang:
    """A stored language code as a Lang; anything but "en" is French, the service's first."""
    return "en" if value == "en" else "fr"


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe to the zone of a place; place is "" when the resident gave none."""

    place: str
    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """Opt out: of one topic, of a zone named in rest, or (neither recognised) of everything."""

    rest: str = ""
    topic: Topic | None = None
    lang: Lang | None = None
    keyword: str = "STOP"


@dataclass(frozen=True, slots=True)
class Start:
    """Opt back in after a STOP."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class Yes:
    """Confirm the question the service last asked."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class No:
    """Decline the question the service last asked."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class Choose:
    """Pick item `number` (1-9) of a list the service sent."""

    number: int


@dataclass(frozen=True, slots=True)
class Help:
    """Ask what the service is, how often it writes and whom to contact."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class ListZones:
    """Ask which zones one is subscribed to."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class TopicOn:
    """Turn one topic (snow removal or photo radar) back on."""

    topic: Topic
    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class Language:
    """Choose the language of replies and alerts; lang is the chosen language."""

    lang: Lang


@dataclass(frozen=True, slots=True)
class Forget:
    """Ask for one's phone number and addresses to be deleted."""

    lang: Lang | None = None


@dataclass(frozen=True, slots=True)
class Text:
    """Anything else: perhaps a place (address, neighbourhood, map link), perhaps noise."""

    text: str


Command = (
    Subscribe
    | Stop
    | Start
    | Yes
    | No
    | Choose
    | Help
    | ListZones
    | TopicOn
    | Language
    | Forget
    | Text
)

# Keyword tables: normalized phrase -> language of the phrase (None when used in both).
_STOP: dict[str, Lang | None] = {
    "STOP": None,
    "STOPALL": None,
    "UNSUBSCRIBE": "en",
    "CANCEL": "en",
    "END": "en",
    "QUIT": "en",
    "REVOKE": "en",
    "OPTOUT": "en",
    "OPT OUT": "en",
    "ARRET": "fr",
    "ARRETE": "fr",
    "ARRETER": "fr",
    "DESABONNER": "fr",
    "SE DESABONNER": "fr",
    "DESABONNEMENT": "fr",
    "FIN": "fr",
}
_START: dict[str, Lang | None] = {
    "START": None,
    "UNSTOP": "en",
    "RESUME": "en",
    "REPRENDRE": "fr",
}
_HELP: dict[str, Lang | None] = {
    "AIDE": "fr",
    "AIDEZ": "fr",
    "HELP": "en",
    "INFO": None,
    "INFOS": None,
}
_SUBSCRIBE: dict[str, Lang | None] = {
    "ABONNER": "fr",
    "S ABONNER": "fr",
    "ABONNE MOI": "fr",
    "ABONNEZ MOI": "fr",
    "ABONNEMENT": "fr",
    "INSCRIRE": "fr",
    "S INSCRIRE": "fr",
    "INSCRIS MOI": "fr",
    "INSCRIVEZ MOI": "fr",
    "INSCRIPTION": "fr",
    "SUBSCRIBE": "en",
    "JOIN": "en",
    "SIGNUP": "en",
    "SIGN UP": "en",
}
_YES: dict[str, Lang | None] = {
    "YES": "en",
    "YEAH": "en",
    "YEP": "en",
    "OUI": "fr",
    "OUAIS": "fr",
    "D ACCORD": "fr",
    "OK": None,
    "OKAY": None,
}
_NO: dict[str, Lang | None] = {"NO": "en", "NOPE": "en", "NON": "fr"}
_LIST: dict[str, Lang | None] = {
    "QUARTIERS": "fr",
    "QUARTIER": "fr",
    "MES QUARTIERS": "fr",
    "MES ZONES": "fr",
    "LISTE": "fr",
    "ZONES": None,
    "ZONE": None,
    "LIST": "en",
    "MY ZONES": "en",
    "NEIGHBOURHOODS": "en",
    "NEIGHBORHOODS": "en",
}
_FORGET: dict[str, Lang | None] = {
    "OUBLIER": "fr",
    "OUBLIEZ": "fr",
    "OUBLIEZ MOI": "fr",
    "OUBLIE MOI": "fr",
    "FORGET": "en",
    "FORGET ME": "en",
    "DELETE": "en",
    "DELETE ME": "en",
}
_LANGUAGE: dict[str, Lang] = {
    "FRANCAIS": "fr",
    "FRENCH": "fr",
    "FR": "fr",
    "ENGLISH": "en",
    "ANGLAIS": "en",
    "EN": "en",
}
for _prefix in ("LANGUE", "LANGUAGE", "LANG"):
    for _word, _chosen in list(_LANGUAGE.items()):
        if " " not in _word:
            _LANGUAGE[f"{_prefix} {_word}"] = _chosen
# Topic names: (topic, language of the name); RADAR reads the same in both languages.
_TOPICS: dict[str, tuple[Topic, Lang | None]] = {
    "NEIGE": ("snow", "fr"),
    "DENEIGEMENT": ("snow", "fr"),
    "DENEIGEMENTS": ("snow", "fr"),
    "SNOW": ("snow", "en"),
    "SNOW REMOVAL": ("snow", "en"),
    "RADAR": ("radar", None),
    "RADARS": ("radar", None),
    "PHOTO RADAR": ("radar", None),
    "PHOTO RADARS": ("radar", None),
    "PHOTORADAR": ("radar", None),
    "RADAR PHOTO": ("radar", None),
}
# Words around a topic after STOP that do not change its meaning ("stop les radars svp").
_FILLER = frozenset(
    {"LE", "LA", "LES", "L", "DU", "DES", "DE", "D", "THE", "FOR", "POUR"}
    | {"ALERTE", "ALERTES", "ALERT", "ALERTS", "AVIS", "NOTICE", "NOTICES"}
    | {"SVP", "STP", "PLEASE", "MERCI", "THANKS"}
)

KEYWORDS_STOP = frozenset(_STOP)
KEYWORDS_START = frozenset(_START)
KEYWORDS_HELP = frozenset(_HELP)

# Whole-message commands, built once from the tables above.
_WHOLE: dict[str, Command] = {
    **{phrase: Start(lang) for phrase, lang in _START.items()},
    **{phrase: Language(lang) for phrase, lang in _LANGUAGE.items()},
    **{phrase: ListZones(lang) for phrase, lang in _LIST.items()},
    **{phrase: Forget(lang) for phrase, lang in _FORGET.items()},
    **{phrase: TopicOn(topic, lang) for phrase, (topic, lang) in _TOPICS.items()},
    **{str(n): Choose(n) for n in range(1, 10)},
    "Y": Yes("en"),
    "N": No(None),
}
_MAX_PHRASE_WORDS = 2
_REST_SEPARATORS = " :;,.!?-\u2013\u2014"
_QUESTION_MARKS = frozenset("?¿\uff1f")
# Letters that Unicode does not decompose into a base letter plus accent.
_FOLD_SPECIAL = {"Œ": "OE", "œ": "OE", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "ß": "SS"}


@lru_cache(maxsize=8192)
def _fold(ch: str) -> str:
    """One character's contribution to the normalized text: letters/digits, a space, or ""."""
    if ch in _FOLD_SPECIAL:
        return _FOLD_SPECIAL[ch]
    category = unicodedata.category(ch)
    if category[0] == "M":
        return ""  # a combining accent belongs to the letter before it
    if category[0] not in "LN":
        return " "
    # Decompose again after upper-casing: a few capitals come back with a combining mark.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).upper())
    out: list[str] = []
    for piece in folded:
        kind = unicodedata.category(piece)[0]
        if kind in "LN":
            out.append(piece)
        elif kind != "M":
            out.append(" ")
    return "".join(out)


def _words(text: str) -> list[tuple[str, int]]:
    """Normalized words of text, each with the offset in text just after its last character."""
    words: list[tuple[str, int]] = []
    current: list[str] = []
    end = 0
    for index, ch in enumerate(text):
        for piece in _fold(ch):
            if piece == " ":
                if current:
                    words.append(("".join(current), end))
                    current = []
            else:
                current.append(piece)
                end = index + 1
    if current:
        words.append(("".join(current), end))
    return words


def normalize(text: str) -> str:
    """Upper-case text without accents, punctuation, emoji or control characters; one space."""
    return " ".join(word for word, _ in _words(text))


def _clean(body: str) -> str:
    """The body as typed, minus control and invisible characters, with whitespace collapsed."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", body):
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cc", "Cf", "Cs"):
            # Lone surrogates cannot be stored as UTF-8; bidi marks and NULs mean nothing.
            kept.append(ch)
    return " ".join("".join(kept).split())


def _match_first(words: list[tuple[str, int]], table: dict[str, _V]) -> tuple[int, _V] | None:
    """The longest phrase of table that opens the message, as (word count, value)."""
    for count in range(min(_MAX_PHRASE_WORDS, len(words)), 0, -1):
        phrase = " ".join(word for word, _ in words[:count])
        if phrase in table:
            return count, table[phrase]
    return None


def _rest(text: str, words: list[tuple[str, int]], count: int) -> str:
    """The original text after the first `count` words, without the separator that follows."""
    rest = text[words[count - 1][1] :].lstrip(_REST_SEPARATORS).rstrip()
    return rest if normalize(rest) else ""


def _topic(rest: str) -> Topic | None:
    """The topic a STOP's rest names, if it names one and nothing else."""
    phrase = " ".join(word for word in normalize(rest).split() if word not in _FILLER)
    found = _TOPICS.get(phrase)
    return found[0] if found else None


def _stop(text: str, words: list[tuple[str, int]]) -> Stop | None:
    match = _match_first(words, _STOP)
    if match is None:
        return None
    count, lang = match
    keyword = " ".join(word for word, _ in words[:count])
    if keyword == "STOPALL":
        return Stop("", None, lang, keyword)
    rest = _rest(text, words, count)
    topic = _topic(rest)
    # A recognised topic consumes the rest; an unrecognised rest is left for the caller.
    return Stop("" if topic else rest, topic, lang, keyword)


def _answer(
    words: list[tuple[str, int]],
    table: dict[str, Lang | None],
    make: Callable[[Lang | None], Command],
) -> Command | None:
    """Yes or No: the word opens the message and no digits follow (digits suggest an address)."""
    match = _match_first(words, table)
    if match is None:
        return None
    count, lang = match
    if any(ch.isdigit() for word, _ in words[count:] for ch in word):
        return None
    return make(lang)


def parse(body: str) -> Command:
    """Turn an inbound SMS body into a command; never raises."""
    text = _clean(body)
    words = _words(text)
    if not words:
        if text and all(ch in _QUESTION_MARKS for ch in text.replace(" ", "")):
            return Help(None)
        return Text("")
    # Opt-out comes first: carriers require it to win over any other reading.
    stop = _stop(text, words)
    if stop is not None:
        return stop
    help_match = _match_first(words, _HELP)
    if help_match is not None:
        return Help(help_match[1])
    whole = _WHOLE.get(" ".join(word for word, _ in words))
    if whole is not None:
        return whole
    subscribe = _match_first(words, _SUBSCRIBE)
    if subscribe is not None:
        return Subscribe(_rest(text, words, subscribe[0]), subscribe[1])
    answer = _answer(words, _YES, Yes) or _answer(words, _NO, No)
    if answer is not None:
        return answer
    return Text(text)
