"""The public page: notices by neighbourhood, the zone map, how to subscribe; French first.

Routes: `/` (French, or English when the browser's Accept-Language prefers it), `/fr` and
`/en` (an explicit choice, what the language switch links to), `/zones/{slug}` (French)
and `/en/zones/{slug}`. Pages are rendered on the server with Jinja2: no script, no
external asset, and the same ETag rules as the feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from alerts.public.public_cache import PublicCache, Rendered, conditional_response
from alerts.public.public_notices import PublicAlert, PublicOperation, Snapshot, ZoneRef
from alerts.public.public_wording import (
    alert_when,
    moment,
    operation_when,
    preferred_language,
    say,
    texts,
    zone_names,
)
from alerts.public.zone_map import zone_map
from alerts.wiring import Services

HTML = "text/html; charset=utf-8"
STATES = ("in_progress", "scheduled", "none")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("alerts.public", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["fill"] = fill
    environment.globals["strong"] = lambda text: Markup("<strong>{}</strong>").format(text)
    environment.globals["badge"] = lambda text, css: Markup('<span class="{}">{}</span>').format(
        css, text
    )
    return environment


def fill(text: str, **values: Any) -> Markup:
    """A text's {placeholders} filled, escaping plain values and keeping markup ones."""
    return Markup(escape(text)).format(**values)


@dataclass(frozen=True)
class NoticeView:
    """One notice as a page shows it."""

    kind: str
    kind_label: str
    phase: str
    phase_label: str
    badge: str  # CSS class of the phase badge
    when: str
    starts: datetime
    text: str | None
    zones: str
    everywhere: bool
    location: str | None
    tags: tuple[str, ...]
    cap: str | None


def _prefix(lang: str) -> str:
    return "" if lang == "fr" else "/en"


def home_url(lang: str) -> str:
    """The explicit home page of a language (what the language switch points to)."""
    return f"/{lang}"


def zone_url(slug: str, lang: str) -> str:
    """A zone's page in a language."""
    return f"{_prefix(lang)}/zones/{slug}"


def _alert_view(alert: PublicAlert, snapshot: Snapshot, lang: str, tz: ZoneInfo) -> NoticeView:
    tags = []
    if alert.exercise:
        tags.append(say(lang, "exercise"))
    if alert.correction_of:
        tags.append(say(lang, "correction"))
    phase = alert.phase(snapshot.now)
    everywhere = _everywhere(alert.zones, snapshot)
    return NoticeView(
        kind=alert.kind,
        kind_label=say(lang, "kind_" + alert.kind),
        phase=phase,
        # A sent alert is "in effect"; "in progress" (and its red) is said of operations.
        phase_label=say(lang, ("alert_phase_" if phase == "current" else "phase_") + phase),
        badge="phase-effect" if phase == "current" else f"phase-{phase}",
        when=alert_when(alert, lang, tz, snapshot.now),
        starts=alert.onset,
        text=alert.text(lang),
        zones=say(lang, "whole_territory") if everywhere else zone_names(alert.zones, lang),
        everywhere=everywhere,
        location=None,
        tags=tuple(tags),
        cap=f"/alerts/{alert.id}.cap.xml",
    )


def _operation_view(
    operation: PublicOperation, snapshot: Snapshot, lang: str, tz: ZoneInfo
) -> NoticeView:
    # The operation's own words are those of its latest notice, when one went out.
    sent = [a for a in snapshot.alerts if a.operation_id == operation.id and not a.withdrawn]
    latest = max(sent, key=lambda a: (a.effective, a.id), default=None)
    phase = operation.phase(snapshot.now)
    everywhere = _everywhere(operation.zones, snapshot)
    return NoticeView(
        kind=operation.kind,
        kind_label=say(lang, "kind_" + operation.kind),
        phase=phase,
        phase_label=say(lang, "phase_" + phase),
        badge=f"phase-{phase}",
        when=operation_when(operation, lang, tz),
        starts=operation.start_at,
        text=latest.text(lang) if latest else None,
        zones=say(lang, "whole_territory") if everywhere else zone_names(operation.zones, lang),
        everywhere=everywhere,
        location=operation.location,
        tags=(say(lang, "operation"),),
        cap=f"/alerts/{latest.id}.cap.xml" if latest else None,
    )


def _everywhere(zones: tuple[ZoneRef, ...], snapshot: Snapshot) -> bool:
    return len(snapshot.zones) > 1 and len(zones) == len(snapshot.zones)


def notices_of(
    snapshot: Snapshot, lang: str, tz: ZoneInfo, zone_id: int | None, recent: bool = False
) -> list[NoticeView]:
    """A zone's (or every zone's) listed notices, soonest first; past ones only if `recent`."""
    views = [
        _operation_view(op, snapshot, lang, tz)
        for op in snapshot.listed_operations(zone_id, recent)
    ]
    views += [_alert_view(a, snapshot, lang, tz) for a in snapshot.listed_alerts(zone_id, recent)]
    return sorted(views, key=lambda view: view.starts)


def _common(services: Services, snapshot: Snapshot, lang: str) -> dict[str, Any]:
    service = services.settings.service
    other = "en" if lang == "fr" else "fr"
    # The shortest name makes the clearest example of what to text.
    example = min((zone.name for zone in snapshot.zones), key=len, default="")
    keywords = {"fr": service.sms_keyword_fr, "en": service.sms_keyword_en}
    return {
        "lang": lang,
        "other": other,
        "t": texts(lang),
        "other_t": texts(other),
        "service_name": service.name_fr if lang == "fr" else service.name_en,
        "sms_number": service.sms_number,
        "keyword": keywords[lang],
        "other_keyword": keywords[other],
        "example": example,
        "updated": moment(snapshot.last_modified, lang, service.tz),
        "updated_iso": snapshot.last_modified.isoformat(timespec="seconds"),
        "states": STATES,
    }


def render_home(services: Services, snapshot: Snapshot, lang: str) -> Rendered:
    """The home page: the map, notices grouped by neighbourhood, the zone list, subscribing."""
    tz = services.settings.service.tz
    states = {zone.id: snapshot.zone_state(zone.id) for zone in snapshot.zones}
    # Notices for the whole territory are listed once, first, rather than under every zone.
    everywhere = [n for n in notices_of(snapshot, lang, tz, None) if n.everywhere]
    groups = []
    zone_rows = []
    for zone in snapshot.zones:
        notices = notices_of(snapshot, lang, tz, zone.id)
        local = [notice for notice in notices if not notice.everywhere]
        if local:
            groups.append((zone, zone_url(zone.slug, lang), local))
        zone_rows.append((zone, zone_url(zone.slug, lang), states[zone.id], len(notices)))
    page = (
        _environment()
        .get_template("home.html")
        .render(
            **_common(services, snapshot, lang),
            title=say(lang, "home_title"),
            switch_url=home_url("en" if lang == "fr" else "fr"),
            alternates={"fr": home_url("fr"), "en": home_url("en")},
            map=zone_map(snapshot.layer),
            zone_state=states,
            zone_href={zone.id: zone_url(zone.slug, lang) for zone in snapshot.zones},
            everywhere=everywhere,
            groups=groups,
            zone_rows=zone_rows,
        )
    )
    return Rendered(page.encode("utf-8"), snapshot.last_modified, snapshot.valid_until)


def render_zone(services: Services, snapshot: Snapshot, zone: ZoneRef, lang: str) -> Rendered:
    """A zone's page: its state, current and upcoming notices, and recent ones."""
    tz = services.settings.service.tz
    everything = notices_of(snapshot, lang, tz, zone.id, recent=True)
    page = (
        _environment()
        .get_template("zone.html")
        .render(
            **_common(services, snapshot, lang),
            title=say(lang, "zone_title", zone=zone.name),
            switch_url=zone_url(zone.slug, "en" if lang == "fr" else "fr"),
            alternates={"fr": zone_url(zone.slug, "fr"), "en": zone_url(zone.slug, "en")},
            zone=zone,
            state=snapshot.zone_state(zone.id),
            current=[view for view in everything if view.phase != "past"],
            recent=[view for view in reversed(everything) if view.phase == "past"],
            days=services.settings.web.feed_days,
            home=home_url(lang),
        )
    )
    return Rendered(page.encode("utf-8"), snapshot.last_modified, snapshot.valid_until)


def render_not_found(services: Services, lang: str) -> bytes:
    """The page for a zone that does not exist."""
    other = "en" if lang == "fr" else "fr"
    service = services.settings.service
    page = (
        _environment()
        .get_template("not_found.html")
        .render(
            lang=lang,
            t=texts(lang),
            other_t=texts(other),
            service_name=service.name_fr if lang == "fr" else service.name_en,
            title=say(lang, "not_found_title"),
            home=home_url(lang),
            switch_url=home_url("en" if lang == "fr" else "fr"),
            alternates={"fr": home_url("fr"), "en": home_url("en")},
        )
    )
    return page.encode("utf-8")


def pages_router(services: Services, cache: PublicCache) -> APIRouter:
    """Routes of the public page and the zone pages."""
    router = APIRouter()
    default = services.settings.service.default_lang

    def home(request: Request, lang: str, vary: str | None = None) -> Response:
        etag, rendered = cache.document(
            ("home", lang), lambda snapshot: render_home(services, snapshot, lang)
        )
        return conditional_response(request, etag, rendered, HTML, vary=vary)

    def zone_page(request: Request, slug: str, lang: str) -> Response:
        zone = cache.snapshot().zone(slug)
        if zone is None:
            return Response(render_not_found(services, lang), status_code=404, media_type=HTML)
        etag, rendered = cache.document(
            ("zone", slug, lang), lambda snapshot: render_zone(services, snapshot, zone, lang)
        )
        return conditional_response(request, etag, rendered, HTML)

    @router.get("/")
    def negotiated_home(request: Request) -> Response:
        lang = preferred_language(request.headers.get("accept-language"), default)
        return home(request, lang, vary="Accept-Language")

    @router.get("/fr")
    def french_home(request: Request) -> Response:
        return home(request, "fr")

    @router.get("/en")
    def english_home(request: Request) -> Response:
        return home(request, "en")

    @router.get("/zones/{slug}")
    def french_zone(slug: str, request: Request) -> Response:
        return zone_page(request, slug, "fr")

    @router.get("/en/zones/{slug}")
    def english_zone(slug: str, request: Request) -> Response:
        return zone_page(request, slug, "en")

    return router
