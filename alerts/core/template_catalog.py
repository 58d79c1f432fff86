"""The alert templates described for operators: what each is for, its variables, its cost.

Pure: composition only (and rapidfuzz for "did you mean"). Segment counts come from
composing each template exactly as `alerts send --template` would, on sample values typical
of a notice: a longish neighbourhood name, a date and time, a range of hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from alerts.core.composition import (
    DEFAULT_TEMPLATES,
    KINDS,
    LANGS,
    MessageSpec,
    Templates,
    compose_alert,
)
from alerts.core.messages import Composed, template_variables
from alerts.errors import NotFound

# What each shipped template is for; a template the config adds is "added by the config".
PURPOSES = {
    "snow": "Snow removal notice: parking banned during the operation (its first notice).",
    "snow_reminder": "Reminder shortly before a snow removal starts.",
    "snow_end": "All-clear: the snow removal is over, street parking allowed again.",
    "radar": "Photo radar notice (an operation's notice and reminder).",
    "snow_cancelled": "Correction: a snow removal already announced is cancelled.",
    "snow_moved": "Correction: a snow removal already announced is rescheduled.",
    "radar_cancelled": "Correction: a photo radar operation announced is cancelled.",
    "radar_moved": "Correction: a photo radar operation announced is rescheduled.",
    "info": "Any other news, in the operator's words (text.fr / text.en).",
    "cancelled": "Correction of 'alerts cancel ID --notify' to those an alert reached.",
}
SHIPPED_PURPOSE = "Shipped template."
CONFIGURED_PURPOSE = "Added by the config ([templates.fr] and [templates.en])."

# What each variable holds; the service fills the first two itself when sending to zones.
VARIABLES = {
    "service": "the service's name (filled in: service.name_fr / name_en)",
    "zone": "the neighbourhoods sent to (filled in from --zone)",
    "start": "when it starts: a date and time (2026-12-03 19:00)",
    "hours": "the hours of the parking ban: a range (19:00-07:00)",
    "date": "a date (2026-12-03), or a date and time (2026-12-03 19:00)",
    "place": "where: an address or neighbourhoods",
    "text": "the news itself, in each language (text.fr=..., text.en=...)",
}
FILLED_IN = ("service", "zone")

# Values a typical notice carries. Per language where the words differ; ISO dates, times and
# ranges are spelled out per language by composition.format_value, as in a real send.
SAMPLE_VALUES: dict[str, str] = {
    "zone": "Pointe-de-Sainte-Foy",
    "start": "2026-12-03 19:00",
    "hours": "19:00-07:00",
    "date": "2026-12-03 19:00",
    "place": "2475 boul. Laurier",
    "text.fr": "Collecte des ordures reportée à demain en raison de la neige.",
    "text.en": "Garbage collection moved to tomorrow because of the storm.",
}


class TemplateNotFound(NotFound):
    """No template has this name; the message suggests the closest ones."""

    def __init__(self, name: str, suggestions: list[str], known: list[str]) -> None:
        hint = (
            f"; did you mean {' or '.join(suggestions)}?"
            if suggestions
            else f" (known: {', '.join(known)})"
        )
        super().__init__(f"no template named {name!r}{hint}")
        self.suggestions = suggestions


@dataclass(frozen=True)
class TemplateText:
    """One language of a template: its text and the sample composed from it."""

    template: str
    sample: Composed

    def as_dict(self) -> dict[str, Any]:
        """As `alerts templates show --json` prints it."""
        return {
            "template": self.template,
            "sample": self.sample.text,
            "encoding": self.sample.encoding,
            "segments": self.sample.segments,
            "characters": len(self.sample.text),
            "replaced": dict(self.sample.changed),
        }


@dataclass(frozen=True)
class TemplateInfo:
    """A template as an operator needs to know it before using it."""

    name: str
    purpose: str
    source: str  # shipped, overridden (by the config) or configured (added by it)
    kind: str  # the alert kind it suits (send --kind)
    variables: tuple[str, ...]
    gsm_only: bool
    texts: Mapping[str, TemplateText]
    sample_values: Mapping[str, str]
    max_segments: int | None

    def to_give(self) -> list[str]:
        """The variables an operator gives with --var (the service fills the others)."""
        return [name for name in self.variables if name not in FILLED_IN]

    def as_dict(self) -> dict[str, Any]:
        """As `alerts templates list --json` and `show --json` print it."""
        return {
            "name": self.name,
            "purpose": self.purpose,
            "source": self.source,
            "kind": self.kind,
            "variables": [
                {
                    "name": name,
                    "description": VARIABLES.get(name, ""),
                    "filled_in": name in FILLED_IN,
                }
                for name in self.variables
            ],
            "gsm_only": self.gsm_only,
            "max_segments": self.max_segments,
            "sample_values": dict(self.sample_values),
            "texts": {lang: self.texts[lang].as_dict() for lang in LANGS},
        }


def describe_templates(
    templates: Templates, service_names: Mapping[str, str], max_segments: int | None = None
) -> list[TemplateInfo]:
    """Every template usable in both languages, described, in name order."""
    return [_describe(templates, name, service_names, max_segments) for name in templates.names()]


def describe_template(
    templates: Templates,
    name: str,
    service_names: Mapping[str, str],
    max_segments: int | None = None,
) -> TemplateInfo:
    """One template, described; TemplateNotFound suggests the closest names."""
    known = templates.names()
    if name not in known:
        raise TemplateNotFound(name, suggest(name, known), known)
    return _describe(templates, name, service_names, max_segments)


def suggest(name: str, known: list[str], limit: int = 3) -> list[str]:
    """Up to `limit` known names that look like `name`, best first."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    found = process.extract(key, known, scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
    return [choice for choice, _score, _index in found]


def _describe(
    templates: Templates, name: str, service_names: Mapping[str, str], max_segments: int | None
) -> TemplateInfo:
    raw = {lang: templates.text(name, lang) for lang in LANGS}
    names: set[str] = set()
    for text in raw.values():
        names |= template_variables(text)
    variables = tuple(
        sorted(names, key=lambda v: (list(VARIABLES).index(v) if v in VARIABLES else 99, v))
    )
    values = _sample_values(variables)
    texts = compose_alert(
        MessageSpec(template=name, variables=values),
        templates,
        common={lang: {"service": service_names[lang]} for lang in LANGS},
    )
    if name not in DEFAULT_TEMPLATES["fr"]:
        source, purpose = "configured", CONFIGURED_PURPOSE
    else:
        shipped = all(raw[lang] == DEFAULT_TEMPLATES[lang][name] for lang in LANGS)
        source = "shipped" if shipped else "overridden"
        purpose = PURPOSES.get(name, SHIPPED_PURPOSE)
    kind = name.partition("_")[0]
    return TemplateInfo(
        name=name, purpose=purpose, source=source, kind=kind if kind in KINDS else "info",
        variables=variables, gsm_only=name in templates.gsm_only,
        texts={lang: TemplateText(raw[lang], texts[lang]) for lang in LANGS},
        sample_values=values, max_segments=max_segments,
    )  # fmt: skip


def _sample_values(variables: tuple[str, ...]) -> dict[str, str]:
    """Sample --var values for these variables (the service's name is filled in)."""
    values: dict[str, str] = {}
    for name in variables:
        if name == "service":
            continue
        given = {k: v for k, v in SAMPLE_VALUES.items() if k.partition(".")[0] == name}
        values.update(given or {name: f"<{name}>"})
    return values
