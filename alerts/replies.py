"""Replies to residents: French and English templates, filled and fitted into one SMS."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from alerts.keywords import Lang
from alerts.messages import compose, fit, render

DEFAULTS_FILE = Path(__file__).resolve().parent / "templates" / "replies.toml"


def default_templates() -> dict[str, dict[str, str]]:
    """The shipped templates, by language then name."""
    with DEFAULTS_FILE.open("rb") as handle:
        return tomllib.load(handle)


class Replies:
    """Templates merged with the operator's overrides, rendered to one-segment texts."""

    def __init__(
        self,
        common: Mapping[str, Mapping[str, str]],
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._templates = default_templates()
        for lang, templates in (overrides or {}).items():
            self._templates[lang].update(templates)
        self._common = {lang: dict(values) for lang, values in common.items()}

    def word(self, lang: Lang, name: str) -> str:
        """A single word or phrase of a language (a topic's name, a keyword)."""
        return self._templates[lang][name]

    def text(self, lang: Lang, name: str, **values: str) -> str:
        """The reply `name` in `lang`, filled, sanitised and fitted into one SMS segment."""
        variables = {"example": self._templates[lang]["example"], **self._common[lang], **values}
        return one_segment(render(self._templates[lang][name], variables))


def one_segment(text: str) -> str:
    """The text as one SMS: as is if it fits, else with accents GSM-7 lacks plainer, else cut."""
    composed = compose(text)
    if composed.segments <= 1:
        return composed.text
    # A zone name such as "Côte-Blanche" turns a reply into UCS-2 (70 characters a segment);
    # "Cote-Blanche" keeps it to one GSM-7 segment, at half the cost for the resident's city.
    plain = compose(text, gsm_only=True)
    return plain.text if plain.segments <= 1 else fit(plain.text, 160)
