"""Zone name matching: what residents type ("st-roch", "vieux quebec") against official names."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process

from zones.errors import UnknownZone

# Letters NFKD leaves alone but people spell out.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_WORD = re.compile(r"[a-z0-9]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SAINTS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_MIN_PREFIX = 3  # shorter fragments ("le", "st") would match half the city
# What a name must not hold once whitespace is spaces: C0 controls, DEL, C1 controls (both
# illegal in XML 1.0 even escaped, and ESC or BEL drive a terminal), lone surrogates (no UTF-8
# can carry them) and the two noncharacters XML also refuses.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def fold(text: str) -> str:
    """Lowercase ASCII version of text: accents and ligatures spelled out."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Whatever is still not ASCII (em dashes, curly quotes) separates words.
    return _NON_ASCII.sub(" ", bare).lower()


def name_words(text: str) -> list[str]:
    """Words of a name after folding, with St/Ste read as Saint/Sainte."""
    return [_SAINTS.get(word, word) for word in _WORD.findall(fold(text))]


def normalize_name(text: str) -> str:
    """Canonical comparison key: folded words joined by single spaces ("saint roch")."""
    return " ".join(name_words(text))


def clean_name(text: str) -> str:
    """A name as plain data: runs of whitespace one space, control characters dropped."""
    return " ".join(_CONTROLS.sub("", " ".join(text.split())).split())


def slugify(text: str) -> str:
    """ASCII, lowercase, dash-separated identifier ("vieux-quebec-cap-blanc")."""
    return "-".join(_WORD.findall(fold(text)))


class ZoneNames:
    """Index of zone names (and aliases) answering "which zones does this text mean?".

    Tiers, first non-empty wins: exact key (spaces ignored, aliases included); the text as a
    prefix of a whole name; the text as a prefix starting at any word of a name
    ("Lebourgneuf", "Cap-Blanc"). Several hits in the winning tier mean ambiguity.
    """

    def __init__(self, names: list[str], aliases: dict[str, str] | None = None) -> None:
        self.names = list(names)
        # Each entry: the compact tails of a name or alias ("saintroch", "roch"), its zone
        # index and its spaced key for fuzzy suggestions. Spacing never matters in a match.
        self._entries: list[tuple[list[str], int, str]] = []
        by_key: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            self._add(name, i)
            by_key.setdefault(normalize_name(name), []).append(i)
        for alias, target in (aliases or {}).items():
            indices = by_key.get(normalize_name(target))
            if not indices:
                raise UnknownZone(target, self.suggest(target), context=f"alias '{alias}'")
            for i in indices:
                self._add(alias, i)

    def _add(self, text: str, index: int) -> None:
        words = name_words(text)
        tails = ["".join(words[k:]) for k in range(len(words))] or [""]
        self._entries.append((tails, index, " ".join(words)))

    def match(self, text: str) -> list[int]:
        """Indices of the zones `text` designates: [] none, [i] found, several ambiguous."""
        compact = "".join(name_words(text))
        if not compact:
            return []
        exact = {i for tails, i, _ in self._entries if tails[0] == compact}
        if exact or len(compact) < _MIN_PREFIX:
            return sorted(exact)
        whole = {i for tails, i, _ in self._entries if tails[0].startswith(compact)}
        if whole:
            return sorted(whole)
        inner = {
            i for tails, i, _ in self._entries if any(t.startswith(compact) for t in tails[1:])
        }
        return sorted(inner)

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Up to `limit` zone names that look like `text` (fuzzy), best first."""
        key = normalize_name(text)
        if not key:
            return []
        choices = [entry_key for _, _, entry_key in self._entries]
        found = process.extract(key, choices, scorer=fuzz.WRatio, limit=limit * 3, score_cutoff=70)
        names: list[str] = []
        for _, _, entry in found:
            name = self.names[self._entries[entry][1]]
            if name not in names:
                names.append(name)
        return names[:limit]
