"""Turning what a person gives (a zone name, an address, coordinates) into a stored zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from alerts.errors import InvalidInput, InvalidOption, UsageError
from alerts.wiring import Services
from zones.errors import PlaceNotFound
from zones.geocode import PlaceMatch, parse_address, parse_coordinates, resolve_place

if TYPE_CHECKING:  # geopy loads only where the online geocoder is enabled
    from alerts.gateways.online_geocoder import OnlinePlace


@dataclass(frozen=True)
class ResolvedPlace:
    """A zone found for a place, with the point and text to remember (personal data)."""

    zone_id: int
    zone_name: str
    lon: float | None = None
    lat: float | None = None
    place_text: str | None = None
    distance_m: float = 0.0


class OnlineLookupNeeded(Exception):
    """Resolving this text needs the online geocoder, which a transaction must not wait on."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# Inside a conversation turn (one database transaction), the online answers looked up before
# it began, by text; outside one (None), the online geocoder is asked there and then.
_online_answers: ContextVar[dict[str, OnlinePlace | None] | None] = ContextVar(
    "online_answers", default=None
)


@contextmanager
def online_lookups_deferred(answers: dict[str, OnlinePlace | None]) -> Iterator[None]:
    """Within: a text not in `answers` that needs the online geocoder raises
    OnlineLookupNeeded, so the caller can end its transaction, look it up and try again."""
    token = _online_answers.set(answers)
    try:
        yield
    finally:
        _online_answers.reset(token)


def look_up_online(services: Services, text: str) -> OnlinePlace | None:
    """Ask the online geocoder for `text` within the zone layer's box (None: not found)."""
    online = services.online_geocoder
    if online is None:
        return None
    return online.geocode(text, services.zones.stored().layer.bounds)


class OutsideZones(InvalidInput):
    """A point that lies outside every zone of the layer."""


class AmbiguousPlace(InvalidInput):
    """Text that designates several places in different zones."""


def resolve(services: Services, text: str) -> PlaceMatch:
    """What free text designates: coordinates, a map link, an address or a zone name.

    An address the gazetteer does not know goes to the online geocoder when one is enabled.
    """
    stored = services.zones.stored()
    try:
        return resolve_place(text, stored.layer, services.zones.gazetteer())
    except PlaceNotFound:
        if services.online_geocoder is None or parse_address(text) is None:
            raise
        answers = _online_answers.get()
        if answers is None:
            found = look_up_online(services, text)
        elif text in answers:
            found = answers[text]
        else:
            raise OnlineLookupNeeded(text) from None
        if found is None:
            raise
        zone, distance = stored.layer.locate(found.lon, found.lat)
        return PlaceMatch("address", zone, [], found.lon, found.lat, found.label, distance)


def zone_by_name(services: Services, name: str) -> ResolvedPlace:
    """The zone a name designates (accents, case, St/Ste and prefixes tolerated)."""
    stored = services.zones.stored()
    zone = stored.layer.find(name)
    return ResolvedPlace(stored.zone_id(zone.index), zone.name)


def zone_at(
    services: Services, lat: float, lon: float, place_text: str | None = None
) -> ResolvedPlace:
    """The zone containing a point (snapped to a zone within the configured distance)."""
    stored = services.zones.stored()
    zone, distance = stored.layer.locate(lon=lon, lat=lat)
    if zone is None:
        raise OutsideZones(f"{lat:.6f},{lon:.6f} lies outside every zone of the layer")
    return ResolvedPlace(stored.zone_id(zone.index), zone.name, lon, lat, place_text, distance)


def zone_for_coordinates(services: Services, text: str) -> ResolvedPlace:
    """The zone of "LAT,LON" text or a map link."""
    point = parse_coordinates(text)
    if point is None:
        raise InvalidOption(f"{text!r} is not LAT,LON coordinates (example: 46.8123,-71.2145)")
    return zone_at(services, point[0], point[1])


def zone_for_address(services: Services, text: str) -> ResolvedPlace:
    """The zone of a street address, an unambiguous one only (operators want no guesses)."""
    stored = services.zones.stored()
    match = resolve(services, text)
    if match.ambiguous:
        shown = "; ".join(_label(c) for c in match.candidates[:3])
        raise AmbiguousPlace(f"{text.strip()!r} is ambiguous: {shown}")
    if match.zone is None:
        raise OutsideZones(f"{text.strip()!r} lies outside every zone of the layer")
    return ResolvedPlace(
        stored.zone_id(match.zone.index),
        match.zone.name,
        match.lon,
        match.lat,
        text.strip() if match.kind == "address" else None,
        match.distance_m,
    )


def locate_text(services: Services, text: str) -> dict[str, object]:
    """Where free text points (coordinates, map link, address or zone name), as a JSON shape."""
    match = resolve(services, text)
    found: dict[str, object] = {
        "zone": match.zone.name if match.zone else None,
        "distance_m": round(match.distance_m, 1) if match.zone else None,
        "lat": match.lat,
        "lon": match.lon,
        "matched": match.matched,
    }
    if match.ambiguous:
        found["candidates"] = [_label(candidate) for candidate in match.candidates]
    return found


def locate_point(services: Services, lat: float, lon: float) -> dict[str, object]:
    """The zone containing a point and its distance (0 inside, snapped within the limit)."""
    zone, distance = services.zones.layer().locate(lon=lon, lat=lat)
    return {"zone": zone.name if zone else None, "distance_m": round(distance, 1) if zone else None}


def _label(candidate: object) -> str:
    return str(getattr(candidate, "label", None) or getattr(candidate, "name", candidate))


def resolve_one(
    services: Services,
    *,
    zone: str | None = None,
    address: str | None = None,
    at: str | None = None,
) -> ResolvedPlace:
    """Exactly one of a zone name, an address or coordinates, resolved to a zone."""
    given = [value for value in (zone, address, at) if value]
    if len(given) != 1:
        raise UsageError("give exactly one of --zone, --address or --at")
    if zone:
        return zone_by_name(services, zone)
    if address:
        return zone_for_address(services, address)
    assert at is not None
    return zone_for_coordinates(services, at)
