"""Alert texts: templates per kind and language, composed into SMS, and what a send will cost.

Pure: the standard library, alerts.core.messages and alerts.core.local_time only (no
database, web or SMS library).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time

from alerts.core.local_time import spoken_date, spoken_time
from alerts.core.messages import (
    Composed,
    InvalidTemplate,
    MessageTooLong,
    compose,
    render,
    template_variables,
)
from alerts.errors import InvalidInput, InvalidOption, UsageError

KINDS = ("snow", "radar", "info")
LANGS = ("fr", "en")
LANGUAGE_NAMES = {"fr": "French", "en": "English"}
# The subscriber topic an alert of each kind needs; info reaches every active subscriber.
TOPIC_OF_KIND: dict[str, str | None] = {"snow": "snow", "radar": "radar", "info": None}

# Defaults written for residents of a Québec city: short, plain, and within GSM-7 (é è à ù
# are GSM-7; ê â î ô û ç œ are not and would double the cost of every message).
DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "fr": {
        "snow": (
            "{service}, {zone}: opération de déneigement dès {start}. Stationnement interdit "
            "dans la rue {hours}, sous peine de remorquage. ARRET pour vous désabonner."
        ),
        "snow_reminder": (
            "{service}, {zone}: rappel, stationnement interdit dans la rue {hours} pour le "
            "déneigement. Déplacez votre véhicule pour éviter le remorquage."
        ),
        "snow_end": (
            "{service}, {zone}: l'opération de déneigement est terminée. Le stationnement "
            "dans la rue est de nouveau permis."
        ),
        "radar": (
            "{service}, {place}: surveillance par photoradar prévue {date}. Respectez les "
            "limites de vitesse. ARRET pour vous désabonner."
        ),
        "snow_cancelled": (
            "{service}, {zone}: l'opération de déneigement prévue {start} est annulée. Le "
            "stationnement dans la rue reste permis."
        ),
        "snow_moved": (
            "{service}, {zone}: opération de déneigement reportée. Elle commence {start}; "
            "stationnement interdit dans la rue {hours}."
        ),
        "radar_cancelled": (
            "{service}, {place}: la surveillance par photoradar prévue {date} est annulée."
        ),
        "radar_moved": "{service}, {place}: surveillance par photoradar reportée, {date}.",
        # `alerts cancel --notify`: to those an alert reached, with the opt-out word.
        "cancelled": (
            "{service}, {zone}: ANNULÉ. Ne tenez pas compte de notre message du {date}. "
            "ARRET pour vous désabonner."
        ),
        "info": "{service}: {text}",
    },
    "en": {
        "snow": (
            "{service}, {zone}: snow removal starting {start}. No parking on the street "
            "{hours}; vehicles will be towed. STOP to unsubscribe."
        ),
        "snow_reminder": (
            "{service}, {zone}: reminder, no parking on the street {hours} for snow removal. "
            "Move your vehicle to avoid towing."
        ),
        "snow_end": ("{service}, {zone}: snow removal is over. Street parking is allowed again."),
        "radar": (
            "{service}, {place}: photo radar speed enforcement planned for {date}. Please "
            "respect the speed limit. STOP to unsubscribe."
        ),
        "snow_cancelled": (
            "{service}, {zone}: the snow removal planned for {start} is cancelled. Street "
            "parking remains allowed."
        ),
        "snow_moved": (
            "{service}, {zone}: snow removal rescheduled. It now starts {start}; no parking "
            "on the street {hours}."
        ),
        "radar_cancelled": (
            "{service}, {place}: photo radar enforcement planned for {date} is cancelled."
        ),
        "radar_moved": "{service}, {place}: photo radar enforcement moved to {date}.",
        "cancelled": (
            "{service}, {zone}: CANCELLED. Please disregard our message of {date}. "
            "STOP to unsubscribe."
        ),
        "info": "{service}: {text}",
    },
}

_TIME = r"(\d{1,2}):(\d{2})"
_DATE = r"(\d{4})-(\d{2})-(\d{2})"
_TIME_ONLY = re.compile(rf"^{_TIME}$")
_DATE_ONLY = re.compile(rf"^{_DATE}$")
_DATE_TIME = re.compile(rf"^{_DATE}[T ]{_TIME}$")
_TIME_RANGE = re.compile(rf"^{_TIME}\s*[-–à]\s*{_TIME}$")
_ABBREVIATION_STOP = re.compile(r"\b([ap]\.m\.)\.")


class UnknownTemplate(InvalidInput):
    """A template name that is neither shipped nor configured."""


class AlertTextTooLong(InvalidInput):
    """One language's text needs more SMS segments than allowed."""


@dataclass(frozen=True)
class MessageSpec:
    """What the operator gave as the message: one text, one per language, or a template."""

    text: str | None = None
    text_fr: str | None = None
    text_en: str | None = None
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertTexts:
    """The composed text of an alert in each language."""

    fr: Composed
    en: Composed

    def __getitem__(self, lang: str) -> Composed:
        return self.fr if lang == "fr" else self.en

    @property
    def changed(self) -> dict[str, str]:
        """Characters replaced to stay within GSM-7, in either language."""
        return {**self.fr.changed, **self.en.changed}


@dataclass(frozen=True)
class Estimate:
    """What sending an alert will take: segments, cost and time at the sending rate."""

    recipients: int
    total_segments: int
    cost: float
    currency: str
    seconds: float
    warnings: tuple[str, ...] = ()


def check_template(name: str, text: str) -> str | None:
    """Why a configured template is unusable, or None when it is fine."""
    if not name.isidentifier():
        return f"template name {name!r} must be a plain word (letters, digits, _)"
    try:
        template_variables(text)
    except InvalidTemplate as exc:
        return f"template {name!r}: {exc}"
    return None


def parse_variables(pairs: Iterable[str]) -> dict[str, str]:
    """KEY=VALUE strings as a dict; KEY.fr=VALUE or KEY.en=VALUE set one language only."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        name, _, lang = key.partition(".")
        if not sep or not name.isidentifier() or (lang and lang not in LANGS):
            raise UsageError(f"--var takes KEY=VALUE or KEY.fr=VALUE (got {pair!r})")
        found[key] = value.strip()
    return found


class Templates:
    """The shipped templates with the operator's overrides and additions."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        gsm_only: Iterable[str] = (),
    ) -> None:
        self._texts = {lang: dict(DEFAULT_TEMPLATES[lang]) for lang in LANGS}
        for lang, texts in (overrides or {}).items():
            self._texts[lang].update(texts)
        self.gsm_only = frozenset(gsm_only)

    def names(self) -> list[str]:
        """Every template name usable in both languages."""
        return sorted(set(self._texts["fr"]) & set(self._texts["en"]))

    def text(self, name: str, lang: str) -> str:
        """The template `name` in `lang`; UnknownTemplate names the known ones."""
        if name not in self._texts["fr"] or name not in self._texts["en"]:
            raise UnknownTemplate(f"no template named {name!r} (known: {', '.join(self.names())})")
        return self._texts[lang][name]


def compose_alert(
    spec: MessageSpec,
    templates: Templates,
    *,
    common: Mapping[str, Mapping[str, str]],
    gsm_only: bool = False,
    max_segments: int | None = None,
) -> AlertTexts:
    """Both languages' texts, rendered and composed; refused when missing, malformed or long.

    `common` holds per-language values the service fills in itself ({service}, {zone}); the
    operator's variables win over them.
    """
    raw = _raw_texts(spec, templates, common)
    force_gsm = gsm_only or (spec.template is not None and spec.template in templates.gsm_only)
    composed: dict[str, Composed] = {}
    for lang in LANGS:
        try:
            composed[lang] = compose(raw[lang], gsm_only=force_gsm, max_segments=max_segments)
        except MessageTooLong as exc:
            raise AlertTextTooLong(f"{LANGUAGE_NAMES[lang]} text: {exc}") from None
        if not composed[lang].text:
            raise InvalidOption(f"{LANGUAGE_NAMES[lang]} text is empty")
    return AlertTexts(composed["fr"], composed["en"])


def _raw_texts(
    spec: MessageSpec, templates: Templates, common: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    given = [spec.text is not None, spec.text_fr is not None or spec.text_en is not None]
    given.append(spec.template is not None)
    if sum(given) != 1:
        raise UsageError(
            "give exactly one message: --message, --message-fr with --message-en, or --template"
        )
    if spec.text is not None:
        return {lang: spec.text for lang in LANGS}
    if spec.template is None:
        if spec.text_fr is None or spec.text_en is None:
            raise UsageError("--message-fr and --message-en go together (or use --message)")
        return {"fr": spec.text_fr, "en": spec.text_en}
    texts = {}
    for lang in LANGS:
        values = dict(common.get(lang, {}))
        values.update(language_variables(spec.variables, lang))
        text = render(templates.text(spec.template, lang), values)
        # "7 p.m." closing a sentence of the template would otherwise end in "p.m..".
        texts[lang] = _ABBREVIATION_STOP.sub(r"\1", text)
    return texts


def language_variables(variables: Mapping[str, str], lang: str) -> dict[str, str]:
    """One language's values: KEY.lang wins over KEY; dates and times spelled out."""
    plain = {k: v for k, v in variables.items() if "." not in k}
    plain.update({k.partition(".")[0]: v for k, v in variables.items() if k.endswith(f".{lang}")})
    return {name: format_value(value, lang) for name, value in plain.items()}


def format_value(value: str, lang: str) -> str:
    """Spell out an ISO date, time, date-time or time range in `lang`; other text as is."""
    text = value.strip()
    try:
        if match := _TIME_ONLY.match(text):
            return spoken_time(time(int(match[1]), int(match[2])), lang)
        if match := _DATE_ONLY.match(text):
            return spoken_date(date(int(match[1]), int(match[2]), int(match[3])), lang)
        if match := _DATE_TIME.match(text):
            day = date(int(match[1]), int(match[2]), int(match[3]))
            at = time(int(match[4]), int(match[5]))
            joiner = " à " if lang == "fr" else " at "
            return spoken_date(day, lang) + joiner + spoken_time(at, lang)
        if match := _TIME_RANGE.match(text):
            start = spoken_time(time(int(match[1]), int(match[2])), lang)
            end = spoken_time(time(int(match[3]), int(match[4])), lang)
            return f"de {start} à {end}" if lang == "fr" else f"from {start} to {end}"
    except ValueError:
        raise InvalidOption(f"{value!r} looks like a date or time but is not a valid one") from None
    return value


def join_names(names: Iterable[str], lang: str) -> str:
    """Names joined as a person would: "A, B et C" in French, "A, B and C" in English."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    last = " et " if lang == "fr" else " and "
    return ", ".join(items[:-1]) + last + items[-1]


def estimate(
    by_lang: Mapping[str, int],
    texts: AlertTexts,
    *,
    price_per_segment: float,
    currency: str,
    rate_per_second: float,
    rate_unit: str,
    validity_seconds: int,
) -> Estimate:
    """Segments, cost and sending time of an alert to these recipients per language."""
    recipients = sum(by_lang.values())
    segments = sum(count * texts[lang].segments for lang, count in by_lang.items())
    units = segments if rate_unit == "segments" else recipients
    seconds = units / rate_per_second
    warnings = []
    if seconds > validity_seconds:
        warnings.append(
            f"sending takes about {describe_duration(seconds)} at {rate_per_second:g} "
            f"{rate_unit}/s, longer than the message validity period "
            f"({describe_duration(validity_seconds)}): the last messages would arrive late"
        )
    for lang in LANGS:
        if texts[lang].encoding == "UCS-2" and by_lang.get(lang):
            warnings.append(
                f"the {LANGUAGE_NAMES[lang]} text needs UCS-2 (70 characters a segment); "
                "--gsm-only would replace the accents GSM-7 lacks"
            )
    return Estimate(
        recipients, segments, round(segments * price_per_segment, 2), currency, seconds,
        tuple(warnings),
    )  # fmt: skip


def describe_duration(seconds: float) -> str:
    """A duration for people: "45 s", "12 min", "2 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
