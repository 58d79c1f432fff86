"""Zones: neighbourhood layers, point lookup, name matching and geocoding (pure, no services)."""

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
