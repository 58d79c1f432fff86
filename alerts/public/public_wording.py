"""The public words: page and feed texts per language, local dates, language negotiation."""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from alerts.core.composition import format_value, join_names
from alerts.public.public_notices import PublicAlert, PublicOperation, ZoneRef

LANGS = ("fr", "en")


@lru_cache(maxsize=1)
def _all_texts() -> dict[str, dict[str, str]]:
    source = files("alerts.public") / "templates" / "texts.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def texts(lang: str) -> dict[str, str]:
    """Every public text in `lang` (fr or en)."""
    return _all_texts()[lang]


def say(lang: str, key: str, **values: Any) -> str:
    """One text in `lang` with its placeholders filled."""
    return texts(lang)[key].format(**values)


def preferred_language(accept_language: str | None, default: str = "fr") -> str:
    """fr or en from an Accept-Language header: the higher quality wins, ties go to default."""
    best = {"fr": 0.0, "en": 0.0}
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in best:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best[primary] = max(best[primary], quality)
    other = "en" if default == "fr" else "fr"
    return other if best[other] > best[default] else default


def moment(when: datetime, lang: str, tz: ZoneInfo) -> str:
    """A moment spelled out in local time: "jeudi 3 décembre à 19 h"."""
    return format_value(when.astimezone(tz).strftime("%Y-%m-%dT%H:%M"), lang)


def window(start: datetime, end: datetime, lang: str, tz: ZoneInfo) -> str:
    """A time window in local time, said once for the day when it starts and ends that day."""
    first, last = start.astimezone(tz), end.astimezone(tz)
    if first.date() == last.date():
        day = format_value(first.strftime("%Y-%m-%d"), lang)
        hours = format_value(f"{first:%H:%M}-{last:%H:%M}", lang)
        return say(lang, "window_same_day", day=day, hours=hours)
    return say(lang, "window", start=moment(first, lang, tz), end=moment(last, lang, tz))


def zone_names(zones: tuple[ZoneRef, ...], lang: str) -> str:
    """The zones' names joined as a person would write them."""
    return join_names([zone.name for zone in zones], lang)


def headline(alert: PublicAlert, lang: str, zone_count: int) -> str:
    """A short title: the kind of notice and where ("Déneigement — Saint-Éloi")."""
    where = area_description(alert, lang, zone_count)
    title = (
        f"{say(lang, 'kind_' + alert.kind)} — {where}" if where else say(lang, "kind_" + alert.kind)
    )
    if alert.withdrawn:
        return say(lang, "cancel_headline", headline=title)
    if alert.correction_of:
        return say(lang, "correction_headline", headline=title)
    return title


def area_description(alert: PublicAlert, lang: str, zone_count: int) -> str:
    """Where an alert applies, in words (zones, the whole territory, a radius or an area)."""
    kind = alert.target.get("kind")
    if kind == "all" or (alert.zones and len(alert.zones) == zone_count and zone_count > 1):
        return say(lang, "whole_territory")
    if kind == "near":
        target = alert.target
        return say(
            lang,
            "around",
            radius=f"{float(target['radius_m']):g}",
            lat=f"{float(target['lat']):.5f}",
            lon=f"{float(target['lon']):.5f}",
        )
    if alert.zones:
        return zone_names(alert.zones, lang)
    return say(lang, "drawn_area") if kind == "area" else ""


def alert_when(alert: PublicAlert, lang: str, tz: ZoneInfo, now: datetime) -> str:
    """When an alert speaks of: its operation's window, else when it was or will be sent."""
    if alert.operation_id is not None and alert.onset != alert.effective:
        return window(alert.onset, alert.expires, lang, tz)
    key = "to_be_sent" if alert.effective > now else "sent_at"
    return say(lang, key, when=moment(alert.effective, lang, tz))


def operation_when(operation: PublicOperation, lang: str, tz: ZoneInfo) -> str:
    """An operation's window in words."""
    return window(operation.start_at, operation.end_at, lang, tz)
