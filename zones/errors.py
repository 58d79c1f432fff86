"""Exceptions raised by the zones package: each carries a one-line message for a person."""

from __future__ import annotations

from collections.abc import Sequence


def _quoted_list(items: Sequence[str]) -> str:
    """Render names as 'A', 'B' or 'C' for a message."""
    quoted = [f"'{item}'" for item in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


class ZoneError(Exception):
    """Base of every zones error; `.message` is a single line fit for a terminal or an SMS."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # Messages interpolate file contents and parser errors: fold them onto one line.
        self.message = " ".join(message.split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class LayerError(ZoneError):
    """A zone layer file cannot be used: unreadable, not GeoJSON polygons, no name, bad CRS."""


class LayerOptionError(LayerError):
    """An option does not fit the layer (a --name-field it lacks, an unknown --crs): a usage
    error."""

    exit_code = 2


class UnknownZone(ZoneError):
    """No zone matches a name; carries up to three suggestions."""

    def __init__(self, name: str, suggestions: Sequence[str] = (), context: str = "") -> None:
        self.name = name
        self.suggestions = list(suggestions)
        hint = f"; did you mean {_quoted_list(self.suggestions)}?" if self.suggestions else ""
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}no zone named '{name}'{hint}")


class AmbiguousZone(ZoneError):
    """A name matches several zones; carries their names."""

    def __init__(self, name: str, candidates: Sequence[str]) -> None:
        self.name = name
        self.candidates = list(candidates)
        super().__init__(
            f"'{name}' matches {len(self.candidates)} zones: {_quoted_list(self.candidates)}"
        )


class AddressFileError(ZoneError):
    """An address points file is unusable; the message names the line or feature at fault."""


class AddressOptionError(AddressFileError):
    """A column option (--number-field...) names a column the file lacks: a usage error."""

    exit_code = 2


class PlaceNotFound(ZoneError):
    """Free text is neither coordinates, a known address nor a zone name."""

    def __init__(self, text: str, suggestions: Sequence[str] = ()) -> None:
        self.text = text
        self.suggestions = list(suggestions)
        hint = f"; did you mean {_quoted_list(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"no address, map position or zone matches '{text}'{hint}")
