"""SMS text: GSM-7/UCS-2 encoding, segment counting, sanitising, templates and masking.

Pure: standard library only. The rules follow 3GPP TS 23.038 (the GSM-7 default alphabet and
its extension table) and the concatenated-SMS limits every carrier bills by.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from alerts.errors import InvalidInput

Encoding = Literal["GSM-7", "UCS-2"]

# The 128 positions of the GSM-7 default alphabet, in table order; position 0x1B is the escape
# to the extension table and is not a character of its own.
GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(GSM7_TABLE) - {"\x1b"}
# Each of these is sent as ESC + one septet, so it costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")
GSM7 = GSM7_BASIC | GSM7_EXTENSION

SINGLE_LIMIT: dict[Encoding, int] = {"GSM-7": 160, "UCS-2": 70}
# A concatenated message spends 6 bytes of each part on the user data header.
PART_LIMIT: dict[Encoding, int] = {"GSM-7": 153, "UCS-2": 67}

ZWJ = "\u200d"
ELLIPSIS = "..."

# Typographic marks and their plain GSM-7 stand-ins; shared by sanitize and transliterate.
TYPOGRAPHY: dict[str, str] = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’ (the French apostrophe of word processors and phones)
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u02bc": "'",  # ʼ
    "\u2032": "'",  # ′
    "\u00b4": "'",  # ´, often typed as an apostrophe
    "`": "'",  # the only printable ASCII character missing from GSM-7
    "\u2039": "'",  # ‹
    "\u203a": "'",  # ›
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2010": "-",  # ‐
    "\u2011": "-",  # ‑
    "\u2012": "-",  # ‒
    "\u2013": "-",  # –
    "\u2014": "-",  # —
    "\u2015": "-",  # ―
    "\u2212": "-",  # −
    "\u2043": "-",  # ⁃
    "\u2022": "-",  # •
    "\u2026": "...",  # …
    "\u2024": ".",  # ․
    "\u00b7": ".",  # · (French inclusive writing: résident·es)
    "\u2044": "/",  # ⁄ (what NFKD turns ½ into)
}
_TYPOGRAPHY_TABLE = str.maketrans(TYPOGRAPHY)

# Letters and signs outside GSM-7 that Unicode decomposition does not reduce well.
TRANSLITERATION: dict[str, str] = {
    # Lowercase ç is not GSM-7 (only Ç is); "c" reads better than a capital inside a word.
    "ç": "c",
    "œ": "oe",
    "Œ": "OE",
    "ÿ": "y",
    "Ÿ": "Y",
    "Ð": "D",
    "ð": "d",
    "Þ": "Th",
    "þ": "th",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "ı": "i",
    "ƒ": "f",
    "ẞ": "SS",
    "°": "o",  # "n°" becomes "no", the usual French abbreviation of numéro
    "º": "o",
    "ª": "a",
    "©": "(c)",
    "®": "(R)",
    "±": "+/-",
    "×": "x",
    "÷": "/",
    "¢": "c",
    "¬": "-",
    "¦": "|",
    "µ": "u",
    "¨": "",
    "¯": "",
    "¸": "",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "→": "->",
    "←": "<-",
    # Greek capitals that look like Latin ones; the other ten are GSM-7 already.
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Υ": "Y",
    "Χ": "X",
}

_LINE_BREAKS = frozenset("\u2028\u2029\x85")
# Invisible or pictographic characters with no GSM-7 equivalent: dropping them loses nothing
# a reader needs, whereas an unknown letter becomes "?" so the loss stays visible.
_DROPPED_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf", "Cs", "Co", "Cn", "So", "Sk"})


class MessageTooLong(InvalidInput):
    """A message needs more SMS segments than allowed."""

    def __init__(
        self,
        segments: int,
        max_segments: int,
        encoding: Encoding,
        characters: int | None = None,
    ) -> None:
        detail = encoding if characters is None else f"{encoding}, {characters} characters"
        super().__init__(
            f"message is {segments} SMS segments ({detail}); the limit is {max_segments}"
        )
        self.segments = segments
        self.max_segments = max_segments
        self.encoding = encoding
        self.characters = characters


class MissingVariable(InvalidInput):
    """A template names variables for which no value was given."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"template needs values for: {', '.join(names)}")
        self.names = names


class InvalidTemplate(InvalidInput):
    """A template is malformed or uses placeholders other than {name}."""


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a text travels as SMS: encoding, size in units, parts and the per-part limit."""

    encoding: Encoding
    units: int
    segments: int
    per_segment: int


@dataclass(frozen=True, slots=True)
class Transliteration:
    """Text reduced to GSM-7 and the replacements made (character -> replacement)."""

    text: str
    changed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Composed:
    """A message ready to send, with its encoding, cost and any letters replaced."""

    text: str
    encoding: Encoding
    segments: int
    units: int
    changed: dict[str, str] = field(default_factory=dict)


def is_gsm7(text: str) -> bool:
    """Whether every character of text is in the GSM-7 basic or extension table."""
    return all(ch in GSM7 for ch in text)


def encoding(text: str) -> Encoding:
    """The encoding a text needs: GSM-7 when every character allows it, else UCS-2."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _weight(ch: str, enc: Encoding) -> int:
    if enc == "GSM-7":
        return 2 if ch in GSM7_EXTENSION else 1
    # Characters beyond the Basic Multilingual Plane (emoji) take a UTF-16 surrogate pair.
    return 2 if ord(ch) > 0xFFFF else 1


def segment_info(text: str) -> SegmentInfo:
    """Count the units and SMS segments of text; "" is 0 segments (providers refuse it)."""
    enc = encoding(text)
    weights = [_weight(ch, enc) for ch in text]
    units = sum(weights)
    if units <= SINGLE_LIMIT[enc]:
        return SegmentInfo(enc, units, 1 if text else 0, SINGLE_LIMIT[enc])
    per_part = PART_LIMIT[enc]
    # Pack whole characters: a handset cannot join an escape pair or a surrogate pair that
    # was split across two parts, so such a pair opens the next part instead.
    segments, used = 1, 0
    for weight in weights:
        if used + weight > per_part:
            segments += 1
            used = 0
        used += weight
    return SegmentInfo(enc, units, segments, per_part)


_GUILLEMET_OPEN = re.compile("([\u00ab\u2039]) *")
_GUILLEMET_CLOSE = re.compile(" *([\u00bb\u203a])")


def sanitize(text: str) -> str:
    """Replace typographic marks by GSM-7 ones, drop control characters, tidy spaces."""
    # Phones may send decomposed accents (e + U+0301); composed é is GSM-7, the pair is not.
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch == "\n" or ch in _LINE_BREAKS:
            kept.append("\n")
        elif category == "Zs" or ch in "\t\v\f":
            kept.append(" ")
        elif category == "Cc" or (category == "Cf" and ch != ZWJ):
            # Bidi marks, zero-width spaces and soft hyphens are invisible yet force UCS-2;
            # the zero-width joiner stays because it holds emoji sequences together.
            continue
        else:
            kept.append(ch)
    text = "".join(kept)
    # French sets guillemets off with (narrow) spaces: « bonjour » becomes "bonjour".
    text = _GUILLEMET_OPEN.sub(r"\1", text)
    text = _GUILLEMET_CLOSE.sub(r"\1", text)
    text = text.translate(_TYPOGRAPHY_TABLE)
    text = re.sub(" {2,}", " ", text)
    text = re.sub(" *\n *", "\n", text)
    # A blank line is enough; more only costs septets.
    text = re.sub("\n{3,}", "\n\n", text)
    return text.strip(" \n")


@lru_cache(maxsize=4096)
def _replacement(ch: str) -> str:
    if ch in TYPOGRAPHY:
        return TYPOGRAPHY[ch]
    if ch in TRANSLITERATION:
        return TRANSLITERATION[ch]
    category = unicodedata.category(ch)
    if category == "Zs" or ch in "\t\v":
        return " "
    if ch in _LINE_BREAKS:
        return "\n"
    if category == "Cc":
        return ""
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed != ch:
        # NFKD is idempotent, so each piece maps without decomposing again.
        pieces = (
            piece if piece in GSM7 else _replacement(piece)
            for piece in decomposed
            if not unicodedata.category(piece).startswith("M")
        )
        return "".join(pieces)
    if category in _DROPPED_CATEGORIES:
        return ""
    return "?"


def transliterate(text: str) -> Transliteration:
    """Map every character outside GSM-7 to its nearest GSM-7 text; report what changed."""
    out: list[str] = []
    changed: dict[str, str] = {}
    for ch in text:
        if ch in GSM7:
            out.append(ch)
        else:
            replacement = _replacement(ch)
            out.append(replacement)
            changed[ch] = replacement
    return Transliteration("".join(out), changed)


def compose(text: str, *, gsm_only: bool = False, max_segments: int | None = None) -> Composed:
    """Prepare an outgoing message: sanitize, optionally force GSM-7, check the segment budget."""
    if max_segments is not None and max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    clean = sanitize(text)
    changed: dict[str, str] = {}
    if gsm_only:
        result = transliterate(clean)
        # Dropped emoji can leave doubled spaces behind; tidy once more.
        clean, changed = sanitize(result.text), result.changed
    info = segment_info(clean)
    if max_segments is not None and info.segments > max_segments:
        raise MessageTooLong(info.segments, max_segments, info.encoding, characters=len(clean))
    return Composed(clean, info.encoding, info.segments, info.units, changed)


def _field_names(template: str, names: set[str]) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidTemplate(f"malformed template: {exc}") from None
    for _literal, name, spec, _conversion in parsed:
        if name is None:
            continue
        # Only bare names: attribute or index access ({x.__class__}) would let a template
        # reach into Python objects, and positional fields have no name to supply.
        if not name.isidentifier():
            raise InvalidTemplate(f"template placeholder {{{name}}} is not a plain name")
        names.add(name)
        if spec:
            _field_names(spec, names)


def template_variables(template: str) -> set[str]:
    """The placeholder names a template uses ({name}; {{ and }} are literal braces)."""
    names: set[str] = set()
    _field_names(template, names)
    return names


def render(template: str, variables: Mapping[str, str]) -> str:
    """Fill {name} placeholders; raise MissingVariable naming every value not supplied."""
    missing = sorted(template_variables(template) - set(variables))
    if missing:
        raise MissingVariable(missing)
    try:
        return template.format_map(variables)
    except (ValueError, TypeError) as exc:
        raise InvalidTemplate(f"cannot render template: {exc}") from None


def _fits(text: str, limit: int) -> bool:
    info = segment_info(text)
    budget = limit if info.encoding == "GSM-7" else min(limit, SINGLE_LIMIT["UCS-2"])
    return info.units <= budget


def fit(text: str, limit: int = 160) -> str:
    """Shorten text to `limit` GSM-7 septets (UCS-2: one 70-unit segment), ending in "..."."""
    if limit <= len(ELLIPSIS):
        raise ValueError(f"limit must be more than {len(ELLIPSIS)}")
    if _fits(text, limit):
        return text
    ucs2_budget = min(limit, SINGLE_LIMIT["UCS-2"]) - len(ELLIPSIS)
    septets = units = 0
    gsm = True
    hard_cut = word_cut = 0
    for i, ch in enumerate(text):
        if i + 1 > limit - len(ELLIPSIS):
            break  # every character costs at least one unit in either encoding
        gsm = gsm and ch in GSM7
        septets += _weight(ch, "GSM-7")
        units += _weight(ch, "UCS-2")
        if (septets if gsm else units) > (limit - len(ELLIPSIS) if gsm else ucs2_budget):
            # A longer prefix can still fit when it switches encoding, so keep scanning.
            continue
        hard_cut = i + 1
        if i + 1 < len(text) and text[i + 1].isspace():
            word_cut = i + 1
    # Prefer a word boundary unless it would throw away most of what fits (a long URL).
    cut = word_cut if word_cut >= hard_cut // 2 else hard_cut
    shortened = text[:cut].rstrip().rstrip(",;:-").rstrip() + ELLIPSIS
    if _fits(shortened, limit):
        return shortened
    return text[:hard_cut] + ELLIPSIS
