"""Zones: neighbourhood layers, point lookup, name matching and geocoding (pure, no services)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zones.address_points import AddressPoint, read_address_points
    from zones.addresses import ParsedAddress, normalize_street, parse_address
    from zones.coordinates import parse_coordinates
    from zones.errors import (
        AddressFileError,
        AmbiguousZone,
        LayerError,
        PlaceNotFound,
        UnknownZone,
        ZoneError,
    )
    from zones.geocode import Candidate, Gazetteer, PlaceMatch, resolve_place
    from zones.layer import Zone, ZoneLayer
    from zones.layer_file import LoadReport
    from zones.names import ZoneNames, normalize_name, slugify

# Each name is imported on first use: a command that needs only an error class does not
# load shapely, pyproj and rapidfuzz.
_EXPORTS = {
    "zones.address_points": ("AddressPoint", "read_address_points"),
    "zones.addresses": ("ParsedAddress", "normalize_street", "parse_address"),
    "zones.coordinates": ("parse_coordinates",),
    "zones.errors": (
        "AddressFileError", "AmbiguousZone", "LayerError", "PlaceNotFound", "UnknownZone",
        "ZoneError",
    ),
    "zones.geocode": ("Candidate", "Gazetteer", "PlaceMatch", "resolve_place"),
    "zones.layer": ("Zone", "ZoneLayer"),
    "zones.layer_file": ("LoadReport",),
    "zones.names": ("ZoneNames", "normalize_name", "slugify"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'zones' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AddressFileError",
    "AddressPoint",
    "AmbiguousZone",
    "Candidate",
    "Gazetteer",
    "LayerError",
    "LoadReport",
    "ParsedAddress",
    "PlaceMatch",
    "PlaceNotFound",
    "UnknownZone",
    "Zone",
    "ZoneError",
    "ZoneLayer",
    "ZoneNames",
    "normalize_name",
    "normalize_street",
    "parse_address",
    "parse_coordinates",
    "read_address_points",
    "resolve_place",
    "slugify",
]
