"""Places in free text: an in-memory address gazetteer, and resolve_place that ties it together.

resolve_place tries, in order: coordinates or a map link, an address (text starting or ending
with a civic number) looked up in the gazetteer, then a zone name. It never guesses between
equally good answers in different zones: it returns them all as candidates.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from zones.address_points import AddressPoint, read_address_points
from zones.addresses import (
    ParsedAddress,
    StreetParts,
    normalize_street,
    parse_address,
    street_parts,
)
from zones.coordinates import parse_coordinates
from zones.errors import PlaceNotFound
from zones.layer import Zone, ZoneLayer

__all__ = [
    "AddressPoint",
    "Candidate",
    "Gazetteer",
    "ParsedAddress",
    "PlaceMatch",
    "normalize_street",
    "parse_address",
    "parse_coordinates",
    "read_address_points",
    "resolve_place",
]

# Score adjustments (scores run 0-100 like rapidfuzz's): a type or direction that contradicts
# the text costs more than one the text leaves out; a missing civic number costs a little.
_TYPE_CLASH, _DIRECTION_CLASH, _DIRECTION_EXTRA, _DIRECTION_MISSING = 10.0, 20.0, 5.0, 3.0
_NUMBER_MISSING, _NUMBER_FAR_MAX = 5.0, 10.0
_CORE_CUTOFF = 55.0
ADDRESS_MIN_SCORE = 80.0  # below this an address match is not trusted by resolve_place
TIE_MARGIN = 1.0  # candidates this close to the best one are equally good


@dataclass(frozen=True)
class Candidate:
    """A gazetteer answer: position, printable label, score (0-100), civic number found as is."""

    lon: float
    lat: float
    label: str
    score: float
    exact_number: bool


@dataclass
class _Street:
    parts: StreetParts
    label: str
    numbers: np.ndarray  # sorted civic numbers, one per (number, suffix)
    suffixes: list[str]
    lon: np.ndarray
    lat: np.ndarray


class Gazetteer:
    """Address points indexed by normalised street; geocode() tolerates typos and abbreviations."""

    def __init__(self, points: Iterable[AddressPoint]) -> None:
        grouped: dict[str, list[AddressPoint]] = {}
        parts_of: dict[str, StreetParts] = {}
        for point in points:
            if point.street not in parts_of:
                parts_of[point.street] = street_parts(point.street)
            grouped.setdefault(parts_of[point.street].key, []).append(point)
        self._streets: list[_Street] = []
        self._by_core: dict[str, list[int]] = {}
        for key in sorted(grouped):
            street = _build_street(parts_of, grouped[key])
            self._by_core.setdefault(street.parts.core, []).append(len(self._streets))
            self._streets.append(street)
        self._cores = list(self._by_core)

    def __len__(self) -> int:
        return sum(len(street.numbers) for street in self._streets)

    def geocode(self, text: str, limit: int = 5) -> list[Candidate]:
        """Best address candidates for the text, best first; [] when it is not an address."""
        parsed = parse_address(text)
        if parsed is None or not self._streets:
            return []
        query = parsed.parts
        found = process.extract(
            query.core, self._cores, scorer=fuzz.ratio, limit=12, score_cutoff=_CORE_CUTOFF
        )
        candidates: dict[str, Candidate] = {}
        for _, core_score, at in found:
            for street_index in self._by_core[self._cores[at]]:
                street = self._streets[street_index]
                candidate = _candidate(street, parsed, core_score - _mismatch(query, street.parts))
                best = candidates.get(candidate.label)
                if best is None or candidate.score > best.score:
                    candidates[candidate.label] = candidate
        ranked = sorted(candidates.values(), key=lambda c: (-c.score, not c.exact_number, c.label))
        return ranked[:limit]


def _build_street(parts_of: dict[str, StreetParts], points: list[AddressPoint]) -> _Street:
    label = Counter(p.street for p in points).most_common(1)[0][0]
    seen: dict[tuple[int, str], AddressPoint] = {}
    for point in points:  # several points at one address: keep the first, deterministically
        seen.setdefault((point.number, point.suffix), point)
    ordered = sorted(seen.values(), key=lambda p: (p.number, p.suffix))
    return _Street(
        parts=parts_of[label],
        label=label,
        numbers=np.array([p.number for p in ordered], dtype=np.int64),
        suffixes=[p.suffix for p in ordered],
        lon=np.array([p.lon for p in ordered]),
        lat=np.array([p.lat for p in ordered]),
    )


def _mismatch(query: StreetParts, street: StreetParts) -> float:
    penalty = 0.0
    if query.type and street.type and query.type != street.type:
        penalty += _TYPE_CLASH
    if query.direction and street.direction and query.direction != street.direction:
        penalty += _DIRECTION_CLASH
    elif query.direction and not street.direction:
        penalty += _DIRECTION_EXTRA
    elif street.direction and not query.direction:
        penalty += _DIRECTION_MISSING
    return penalty


def _candidate(street: _Street, parsed: ParsedAddress, score: float) -> Candidate:
    """The street's point for the civic number, or its nearest number (same parity first)."""
    numbers = street.numbers
    same = np.flatnonzero(numbers == parsed.number)
    if same.size:
        with_suffix = [i for i in same if street.suffixes[i] == parsed.suffix]
        at = int(with_suffix[0] if with_suffix else same[0])
        exact = True
    else:
        gaps = np.abs(numbers - parsed.number)
        parity = (numbers % 2) == (parsed.number % 2)
        # Same side of the street first: even and odd numbers face each other.
        at = int(
            np.argmin(np.where(parity, gaps, gaps + 10**9)) if parity.any() else np.argmin(gaps)
        )
        exact = False
        score -= _NUMBER_MISSING + min(_NUMBER_FAR_MAX, float(gaps[at]) / 100.0)
    number = f"{numbers[at]}{street.suffixes[at]}"
    return Candidate(
        float(street.lon[at]),
        float(street.lat[at]),
        f"{number} {street.label}",
        round(score, 1),
        exact,
    )


@dataclass(frozen=True)
class PlaceMatch:
    """What a piece of text designates; `zone` is None when nothing or several things fit.

    kind "point": coordinates or a map link (zone None if outside the layer, even snapped).
    kind "address": candidates are gazetteer Candidates; several means ambiguous.
    kind "zone": candidates are Zones; several means an ambiguous name.
    """

    kind: Literal["point", "address", "zone"]
    zone: Zone | None
    candidates: list[Candidate] | list[Zone] = field(default_factory=list)
    lon: float | None = None
    lat: float | None = None
    matched: str = ""
    distance_m: float = 0.0

    @property
    def ambiguous(self) -> bool:
        """True when several candidates fit equally well and the caller must ask the person."""
        return self.zone is None and len(self.candidates) > 1


def resolve_place(text: str, layer: ZoneLayer, gazetteer: Gazetteer | None = None) -> PlaceMatch:
    """Resolve free text to a point, an address or a zone of the layer; PlaceNotFound if none."""
    position = parse_coordinates(text)
    if position is not None:
        lat, lon = position
        zone, distance = layer.locate(lon, lat)
        return PlaceMatch("point", zone, [], lon, lat, f"{lat:.6f}, {lon:.6f}", distance)
    if gazetteer is not None and parse_address(text) is not None:
        found = _address_match(text, layer, gazetteer)
        if found is not None:
            return found
    hits = layer.names.match(text)
    if len(hits) == 1:
        zone = layer.zones[hits[0]]
        return PlaceMatch("zone", zone, [zone], matched=zone.name)
    if hits:
        return PlaceMatch("zone", None, [layer.zones[i] for i in hits], matched=text.strip())
    raise PlaceNotFound(text.strip(), layer.names.suggest(text))


def _address_match(text: str, layer: ZoneLayer, gazetteer: Gazetteer) -> PlaceMatch | None:
    candidates = [c for c in gazetteer.geocode(text) if c.score >= ADDRESS_MIN_SCORE]
    if not candidates:
        return None
    best = candidates[0]
    tied = [c for c in candidates if c.score >= best.score - TIE_MARGIN]
    located = [layer.locate(c.lon, c.lat) for c in tied]
    if len({zone.index if zone else -1 for zone, _ in located}) > 1:
        return PlaceMatch("address", None, tied, matched=text.strip(), distance_m=math.inf)
    zone, distance = located[0]
    return PlaceMatch("address", zone, [best], best.lon, best.lat, best.label, distance)
