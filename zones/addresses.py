"""Civic addresses as people type them: street keys, civic numbers, and address point files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz import fuzz

from zones.names import fold

# Street types, canonical form first. Types are recognised as the first word (French order,
# "Avenue Maguire") or the last one (English order and ordinals, "Maguire Ave", "8e Avenue").
_TYPE_WORDS = {
    "rue": ("rue", "street", "str"),
    "avenue": ("avenue", "av", "ave", "avn", "avenu"),
    "boulevard": ("boulevard", "boul", "blvd", "bd", "bl", "boulv", "blv"),
    "chemin": ("chemin", "ch", "chem"),
    "route": ("route", "rte"),
    "cote": ("cote",),
    "place": ("place", "pl"),
    "montee": ("montee", "mtee"),
    "rang": ("rang", "rg"),
    "autoroute": ("autoroute", "aut"),
    "terrasse": ("terrasse", "terr"),
    "square": ("square", "sq"),
    "croissant": ("croissant", "crois"),
    "crescent": ("crescent", "cres"),
    "impasse": ("impasse", "imp"),
    "allee": ("allee",),
    "promenade": ("promenade", "prom"),
    "carre": ("carre",),
    "quai": ("quai",),
    "ruelle": ("ruelle",),
    "voie": ("voie",),
    "road": ("road", "rd"),
    "drive": ("drive",),
    "lane": ("lane", "ln"),
    "court": ("court", "crt"),
    "parkway": ("parkway", "pkwy"),
    "circle": ("circle", "cir"),
    "trail": ("trail", "trl"),
    "way": ("way",),
}
_TYPES = {variant: canonical for canonical, words in _TYPE_WORDS.items() for variant in words}
# Abbreviations that mean something else before a name ("St-Roch", "Dr-Gendreau").
_TRAILING_TYPES = {"st": "rue", "dr": "drive", "ct": "court"}
_DIRECTIONS = {
    "est": "est", "e": "est", "east": "est",
    "ouest": "ouest", "o": "ouest", "w": "ouest", "west": "ouest",
    "nord": "nord", "n": "nord", "north": "nord",
    "sud": "sud", "s": "sud", "south": "sud",
}  # fmt: skip
_WORD_EXPANSIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "mgr": "monseigneur"}
_PARTICLES = {"de", "du", "des", "d", "l"}
_ARTICLES_AFTER_DE = {"la", "le", "les"}
_ORDINAL = re.compile(r"^(\d+)(?:e|er|re|eme|ieme|nd|rd|th|st)$")
_WORD = re.compile(r"[a-z0-9]+")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")


class StreetParts(NamedTuple):
    """A street split for matching: type ("avenue"), core name ("maguire"), direction."""

    type: str
    core: str
    direction: str

    @property
    def key(self) -> str:
        """The normalised street key: type, core and direction joined by spaces."""
        return " ".join(part for part in self if part)


def street_parts(text: str) -> StreetParts:
    """Split a street name into normalised type, core and direction."""
    words = _WORD.findall(fold(_BRACKETS.sub(" ", text)))
    direction = ""
    if len(words) > 1 and _direction(words[-1]):
        direction = _direction(words[-1])
        words = words[:-1]
    street_type = ""
    if len(words) > 1 and words[0] in _TYPES:
        street_type, words = _TYPES[words[0]], words[1:]
    elif len(words) > 1 and (words[-1] in _TYPES or words[-1] in _TRAILING_TYPES):
        street_type = _TYPES.get(words[-1]) or _TRAILING_TYPES[words[-1]]
        words = words[:-1]
    core = _core_words(words)
    if not core and direction:  # "Rue du Nord": the direction was the name
        core, direction = [direction], ""
    return StreetParts(street_type, " ".join(core), direction)


def normalize_street(text: str) -> str:
    """Canonical street key: "Boul. Charest O." and "boulevard Charest Ouest" give the same."""
    return street_parts(text).key


def _direction(word: str) -> str:
    if word in _DIRECTIONS:
        return _DIRECTIONS[word]
    # "Oest", "Ouset": the one direction word long enough to be mistyped and still recognised.
    if 4 <= len(word) <= 6 and fuzz.ratio(word, "ouest") >= 80:
        return "ouest"
    return ""


def _core_words(words: list[str]) -> list[str]:
    core: list[str] = []
    after_de = False
    for word in words:
        if word in _PARTICLES or (after_de and word in _ARTICLES_AFTER_DE):
            after_de = word in ("de", "d")
            continue
        after_de = False
        ordinal = _ORDINAL.match(word)
        core.append(ordinal.group(1) if ordinal else _WORD_EXPANSIONS.get(word, word))
    return core


@dataclass(frozen=True)
class ParsedAddress:
    """A civic address read from text: number, letter suffix and the street (key and parts)."""

    number: int
    suffix: str
    street: str
    parts: StreetParts


_POSTAL_CODE = re.compile(r"\b[A-Za-z]\d[A-Za-z][\s-]?\d[A-Za-z]\d\b")
_CIVIC_MARK = re.compile(r"^\s*(?:#|n[°º])\s*(?=\d)", re.IGNORECASE)  # not "No": "No. 3 Road"
_UNIT = re.compile(
    r"(?:\b(?:app|apt|appartement|unit[eé]?|suite|bureau|local)\b\.?|#)\s*\w+", re.IGNORECASE
)
_REGION_TAIL = re.compile(
    r"(?:[\s,]+(?:qc|québec|quebec|on|ontario|canada|montréal|montreal|toronto))+\s*$",
    re.IGNORECASE,
)
# Civic number first: "1445", "1445A", "1460-B", "1445-1447" (a range: its first number).
_LEADING = re.compile(
    r"^\s*(\d{1,6})(?:(?:\s*-\s*|(?=[A-Za-z]))([A-Za-z])(?![A-Za-z'’]))?"
    r"(?:\s*[-–]\s*\d{1,6}[A-Za-z]?)?[\s,]+(.+)$"
)
_TRAILING = re.compile(r"^(.+?)[\s,]+(\d{1,6})(?:\s*-?\s*([A-Za-z]))?\s*$")
# A text opening on an ordinal street has no civic number ("76e Rue", "3 e Avenue", "1st
# Ave"). "st" counts only when written onto the number: "12 St-Jean" is 12 rue Saint-Jean.
_LEADING_ORDINAL = re.compile(
    r"^\s*\d+(?:\s*(?:e|er|re|eme|ème|ieme|ième|nd|rd|th)|st)\b", re.IGNORECASE
)
CIVIC = re.compile(r"^\s*(\d{1,6})\s*(?:-?\s*([A-Za-z])\b)?")


def parse_civic(value: str) -> tuple[int, str] | None:
    """(number, suffix) from a civic number cell such as "1445", "1445A", "1460-B", "4815-4861"."""
    match = CIVIC.match(value)
    if not match or not int(match.group(1)):
        return None
    return int(match.group(1)), (match.group(2) or "").upper()


def parse_address(text: str) -> ParsedAddress | None:
    """The civic number and street of an address typed in French or English, or None."""
    # "#2280 ..." or "n° 2280 ...": a mark before the first number introduces the civic
    # number; elsewhere ("... #4") it introduces an apartment, dropped below.
    cleaned = _CIVIC_MARK.sub("", text)
    cleaned = _UNIT.sub(" ", _POSTAL_CODE.sub(" ", cleaned))
    segments = [s.strip() for s in cleaned.split(",") if s.strip()]
    # French style "1445, avenue Maguire": a lone number belongs to the next segment.
    if len(segments) > 1 and re.fullmatch(r"\d{1,6}\s*-?\s*[A-Za-z]?", segments[0]):
        segments = [f"{segments[0]} {segments[1]}", *segments[2:]]
    for segment in segments:
        for candidate in (_REGION_TAIL.sub("", segment), segment):
            parsed = _parse_segment(candidate)
            if parsed is not None:
                return parsed
    return None


def _parse_segment(segment: str) -> ParsedAddress | None:
    match = None if _LEADING_ORDINAL.match(segment) else _LEADING.match(segment)
    if match:
        number, suffix, street = match.group(1), match.group(2), match.group(3)
    else:
        match = _TRAILING.match(segment)
        if not match:
            return None
        street, number, suffix = match.group(1), match.group(2), match.group(3)
    parts = street_parts(street)
    if not parts.core or not int(number):
        return None
    return ParsedAddress(int(number), (suffix or "").upper(), parts.key, parts)
