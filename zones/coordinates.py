"""Coordinates in free text: "46.81, -71.21", "46,81 -71,21", geo: URIs and map links.

Order: latitude then longitude, the convention of every map application and of geo: URIs.
Bare numbers (not links) get two safe corrections: a first number beyond ±90 can only be a
longitude, and a first number below -50 followed by one between 15 and 85 is North-American
longitude/latitude order (the alternative is a point off Antarctica). Hemisphere letters
(N/S, E/W/O for "ouest") decide order and sign when present. Out-of-range values give None.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

_URL = re.compile(r"(?:https?://|geo:)[^\s<>\"']+", re.IGNORECASE)
_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
_PAIR = re.compile(rf"^\s*(?:loc:)?\s*({_NUMBER})\s*,\s*({_NUMBER})")
_GOOGLE_PIN = re.compile(rf"!3d({_NUMBER})!4d({_NUMBER})")
_AT_VIEW = re.compile(rf"/@({_NUMBER}),({_NUMBER})")
_OSM_MAP = re.compile(rf"map=\d+(?:\.\d+)?/({_NUMBER})/({_NUMBER})")
_GEO_URI = re.compile(rf"^geo:\s*({_NUMBER})\s*,\s*({_NUMBER})", re.IGNORECASE)
# Query parameters holding "lat,lon": Google (q, query, ll, center, destination, daddr),
# Apple (ll, q, sll, coordinate), Waze (ll).
_PAIR_PARAMS = ("coordinate", "query", "q", "ll", "center", "destination", "daddr", "sll")

_HEMI = r"(?:\s*°)?\s*([NSEWOnsewo](?![A-Za-z]))?"
_DOT_PAIR = re.compile(
    rf"(?<![\w.,])([-+]?\d{{1,3}}\.\d+){_HEMI}\s*[,;]?\s*([-+]?\d{{1,3}}\.\d+){_HEMI}(?![\w.])"
)
# With decimal commas the two numbers must be split by spaces or a semicolon, never a comma.
_COMMA_PAIR = re.compile(
    rf"(?<![\w.,])([-+]?\d{{1,3}},\d+){_HEMI}\s*(?:;\s*|\s+)([-+]?\d{{1,3}},\d+){_HEMI}(?![\w,])"
)


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """(lat, lon) from coordinates or a map link in the text, or None if there are none."""
    links = _URL.findall(text)
    for link in links:
        found = _from_link(link.rstrip(").,;"))
        if found is not None:
            return _checked(*found)
    bare = _URL.sub(" ", text)
    for pattern in (_DOT_PAIR, _COMMA_PAIR):
        match = pattern.search(bare)
        if match:
            first, hemi1, second, hemi2 = match.groups()
            return _from_bare(_number(first), hemi1, _number(second), hemi2)
    return None


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _checked(lat: float, lon: float) -> tuple[float, float] | None:
    if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
        return lat, lon
    return None


def _from_bare(
    first: float, hemi1: str | None, second: float, hemi2: str | None
) -> tuple[float, float] | None:
    if hemi1 or hemi2:
        h1, h2 = (hemi1 or "").upper(), (hemi2 or "").upper()
        if h1 in ("E", "W", "O") or h2 in ("N", "S"):
            first, second, h1, h2 = second, first, h2, h1  # written longitude first
        lat = -abs(first) if h1 == "S" else first
        lon = -abs(second) if h2 in ("W", "O") else second
        return _checked(lat, lon)
    if abs(first) > 90.0 >= abs(second) or (first <= -50.0 and 15.0 <= second <= 85.0):
        first, second = second, first
    return _checked(first, second)


def _from_link(link: str) -> tuple[float, float] | None:
    """(lat, lon) written in a map link or geo: URI, without any network access."""
    link = unquote(link)
    if link[:4].lower() == "geo:":
        query = link.split("?", 1)[1] if "?" in link else ""
        from_query = _pair(parse_qs(query).get("q", [""])[0]) if query else None
        geo = _GEO_URI.match(link)
        base = (float(geo.group(1)), float(geo.group(2))) if geo else None
        # Android writes "geo:0,0?q=lat,lon(label)": the query is the real place then.
        return from_query if from_query and (base is None or base == (0.0, 0.0)) else base
    pin = _GOOGLE_PIN.search(link)  # the dropped pin, more precise than the view centre
    if pin:
        return float(pin.group(1)), float(pin.group(2))
    parts = urlsplit(link)
    params = parse_qs(parts.query)
    if "mlat" in params and "mlon" in params:
        try:
            return float(params["mlat"][0]), float(params["mlon"][0])
        except ValueError:
            return None
    for name in _PAIR_PARAMS:
        for value in params.get(name, []):
            found = _pair(value)
            if found:
                return found
    for pattern, where in ((_AT_VIEW, parts.path), (_OSM_MAP, parts.fragment or parts.query)):
        match = pattern.search(where)
        if match:
            return float(match.group(1)), float(match.group(2))
    return None


def _pair(value: str) -> tuple[float, float] | None:
    match = _PAIR.match(value)
    return (float(match.group(1)), float(match.group(2))) if match else None
