"""Coordinates and map links in SMS text."""

from __future__ import annotations

import pytest

from zones import parse_coordinates

LAT, LON = 46.81, -71.21


@pytest.mark.parametrize(
    "text",
    [
        "46.81,-71.21",
        "46.81, -71.21",
        "46.81 -71.21",
        "  46.81;-71.21 ",
        "46,81 -71,21",
        "46,81; -71,21",
        "46.81 N, 71.21 W",
        "46.81N 71.21O",
        "71.21 W 46.81 N",
        "Je suis ici 46.81, -71.21 merci",
        "-71.21, 46.81",
        "https://www.google.com/maps?q=46.81,-71.21",
        "https://maps.google.com/?q=46.81,-71.21&z=15",
        "https://www.google.com/maps/@46.81,-71.21,15z",
        "https://www.google.com/maps/place/Rue+X/@46.81,-71.21,17z/data=!3m1!4b1",
        "https://www.google.com/maps/place/X/@46.80,-71.20,17z/data=!4m6!3m5!3d46.81!4d-71.21",
        "https://maps.google.com/maps?ll=46.81,-71.21&z=16",
        "https://www.google.com/maps/search/?api=1&query=46.81%2C-71.21",
        "https://www.google.com/maps/@?api=1&map_action=map&center=46.81,-71.21",
        "https://maps.apple.com/?ll=46.81,-71.21&q=Dropped%20Pin",
        "https://maps.apple.com/?q=46.81,-71.21",
        "https://maps.apple.com/place?coordinate=46.81,-71.21&name=Pin",
        "https://www.openstreetmap.org/#map=17/46.81/-71.21",
        "https://www.openstreetmap.org/?mlat=46.81&mlon=-71.21#map=12/46.5/-71.0",
        "geo:46.81,-71.21",
        "geo:46.81,-71.21;u=20",
        "geo:46.81,-71.21,100",
        "geo:0,0?q=46.81,-71.21(Maison)",
        "Voici: https://maps.apple.com/?ll=46.81,-71.21.",
    ],
)
def test_formats(text: str) -> None:
    assert parse_coordinates(text) == pytest.approx((LAT, LON))


@pytest.mark.parametrize(
    "text",
    [
        "1445 avenue Maguire",
        "Quartier 4-5",
        "Saint-Roch",
        "46,81,-71,21",  # decimal commas separated by a comma: ambiguous, refused
        "95.5, 181.2",
        "46.81, -191.0",
        "https://maps.app.goo.gl/AbCdEf",  # short links need the network: not followed
        "https://www.openstreetmap.org/#map=17/146.81/-71.21",
        "",
    ],
)
def test_not_coordinates(text: str) -> None:
    assert parse_coordinates(text) is None


def test_order_heuristics() -> None:
    # Beyond ±90 the first number can only be a longitude.
    assert parse_coordinates("120.5, 45.2") == (45.2, 120.5)
    # Southern hemisphere latitude with a plausible longitude stays as written.
    assert parse_coordinates("-33.87, 151.21") == (-33.87, 151.21)
    # Links follow their format's order: no swapping.
    assert parse_coordinates("geo:-71.21,46.81") == (-71.21, 46.81)
