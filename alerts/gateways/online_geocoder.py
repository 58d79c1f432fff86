"""An optional online geocoder (Nominatim, through geopy) for cities without an address file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from alerts.config import ZonesSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnlinePlace:
    """A point an online geocoder found for some text."""

    lon: float
    lat: float
    label: str


class NominatimGeocoder:
    """Asks a Nominatim server, bounded to the zone layer's box; None on any failure."""

    def __init__(self, settings: ZonesSettings) -> None:
        parts = urlsplit(settings.nominatim_url)
        self._client = Nominatim(
            domain=parts.netloc + parts.path.rstrip("/"),
            scheme=parts.scheme,
            user_agent=settings.nominatim_user_agent,
            timeout=settings.online_timeout_seconds,
        )
        self._countries = settings.nominatim_country_codes

    def geocode(self, text: str, bounds: tuple[float, float, float, float]) -> OnlinePlace | None:
        """The best point for `text` inside `bounds` (min lon, min lat, max lon, max lat)."""
        west, south, east, north = bounds
        try:
            found = self._client.geocode(
                text,
                exactly_one=True,
                country_codes=self._countries or None,
                viewbox=[(south, west), (north, east)],
                bounded=True,
            )
        except GeopyError as exc:
            # A slow or failing online service must never break a subscription: say so, go on.
            log.warning("online geocoder failed: %s", type(exc).__name__)
            return None
        if found is None:
            return None
        return OnlinePlace(float(found.longitude), float(found.latitude), str(found.address))
