"""Replies to residents: French and English templates, filled and fitted into one SMS."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from alerts.core.keywords import Lang
from alerts.core.messages import ELLIPSIS, compose, fit, render, template_variables

DEFAULTS_FILE = Path(__file__).resolve().parent / "replies.toml"


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
        """The reply `name` in `lang`, filled, sanitised and fitted into one SMS segment.

        When the values of this turn (zone names, say) make it too long, those values are
        shortened, never the template's own words: the opt-out word stays in every reply.
        """
        template = self._templates[lang][name]
        fixed = {"example": self._templates[lang]["example"], **self._common[lang]}
        reply = _one_segment(render(template, {**fixed, **values}))
        while reply is None:
            longest = max(values, key=lambda key: len(values[key]), default=None)
            if longest is None or len(values[longest]) <= len(ELLIPSIS) + 1:
                return fit(compose(render(template, {**fixed, **values}), gsm_only=True).text)
            values = {**values, longest: _shorter(values[longest])}
            reply = _one_segment(render(template, {**fixed, **values}))
        return reply

    def too_long(self) -> list[str]:
        """The replies that do not fit one SMS with this service's own values (its name,
        support contact and message frequency), whatever a resident sends: a config error."""
        problems = []
        for lang, templates in self._templates.items():
            fixed = {"example": templates["example"], **self._common[lang]}
            for name, template in templates.items():
                if not template_variables(template) <= set(fixed):
                    continue  # filled by the turn: shortened as needed (see text)
                rendered = render(template, fixed)
                if _one_segment(rendered) is None:
                    length = len(compose(rendered, gsm_only=True).text)
                    problems.append(
                        f"the {lang} {name!r} reply would be {length} characters, more than "
                        f"one SMS (160): shorten service.name_{lang}, service.support_contact or "
                        f"sms.message_frequency_{lang}, or override replies.{lang}.{name}"
                    )
        return problems


def _shorter(value: str) -> str:
    """A value cut by a few characters, ending in an ellipsis."""
    kept = value.removesuffix(ELLIPSIS)
    return kept[: max(1, len(kept) - 4)].rstrip(" ,.;") + ELLIPSIS


def _one_segment(text: str) -> str | None:
    """The text as one SMS: as is if it fits, else with accents GSM-7 lacks plainer; or None."""
    composed = compose(text)
    if composed.segments <= 1:
        return composed.text
    # A zone name such as "Côte-Blanche" turns a reply into UCS-2 (70 characters a segment);
    # "Cote-Blanche" keeps it to one GSM-7 segment, at half the cost for the resident's city.
    plain = compose(text, gsm_only=True)
    return plain.text if plain.segments <= 1 else None


def service_replies(
    names: Mapping[str, str],
    support: str,
    frequencies: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> Replies:
    """The templates filled with a service's name and message frequency (per language), its
    support contact, and the operator's overrides."""
    common = {
        lang: {
            "service": names[lang],
            "support": support,
            "frequency": frequencies[lang][:1].upper() + frequencies[lang][1:],
        }
        for lang in ("fr", "en")
    }
    return Replies(common, overrides)
