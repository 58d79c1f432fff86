"""Open data: the Atom feed of alerts, the alerts and zones as GeoJSON, with conditional GETs."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from markupsafe import escape
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlmodel import col

from alerts.core.local_time import format_local
from alerts.public.alert_areas import simplified, simplified_layer, target_shape
from alerts.public.public_cache import PublicCache, Rendered, conditional_response
from alerts.public.public_notices import PublicAlert, Snapshot
from alerts.public.public_wording import LANGS, alert_when, headline, say, zone_names
from alerts.public.xml_text import xml_text
from alerts.storage.models import ACTIVE, Subscriber, Subscription
from alerts.wiring import Services

ATOM = "application/atom+xml; charset=utf-8"
GEOJSON = "application/geo+json"
# Feed readers poll; a minute of freshness spares the server without delaying snow news.
FEED_CACHE = "public, max-age=60"
MAX_ENTRIES = 200
# Published subscriber counts are coarse: under COUNT_STEP they read "<10", above they are
# rounded down to a multiple of it. An exact count above a small threshold ("<5", then 5)
# is defeated by padding: subscribe four numbers of one's own and the count is the others'.
COUNT_STEP = 10


def public_base(services: Services, request: Request) -> str:
    """The service's public address: configured, else the one the client used."""
    return services.settings.service.public_url or str(request.base_url).rstrip("/")


def cap_url(base: str, alert_id: int) -> str:
    """Where an alert's CAP document is served."""
    return f"{base}/alerts/{alert_id}.cap.xml"


class TypedLinks(BaseEntryExtension):
    """Entry links that keep their rel and type.

    feedgen 1.0 writes an entry's <link> with its href only (the attribute dict is shadowed
    by the element it builds), so the CAP link goes through this entry extension instead.
    """

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def add(self, href: str, rel: str, media_type: str) -> None:
        """Add a link to the entry."""
        self.links.append({"href": href, "rel": rel, "type": media_type})

    def extend_atom(self, entry: Any) -> Any:
        """Write the links into the entry element feedgen built."""
        for link in self.links:
            etree.SubElement(entry, "link", **link)
        return entry


def atom_feed(services: Services, snapshot: Snapshot, base: str) -> Rendered:
    """Atom 1.0: one entry per alert of the feed window, newest first, in both languages."""
    service = services.settings.service
    tz = service.tz
    # Every text goes through xml_text: lxml refuses a control character (a zone name
    # holding one made the whole feed a 500).
    x = xml_text
    base = x(base)
    feed = FeedGenerator()
    feed.id(f"{base}/alerts.atom")
    feed.title(x(f"{say('fr', 'feed_title', service=service.name_fr)} / "
                 f"{say('en', 'feed_title', service=service.name_en)}"))  # fmt: skip
    feed.language("fr-CA")
    feed.author({"name": x(f"{service.name_fr} / {service.name_en}")})
    feed.link(href=f"{base}/alerts.atom", rel="self", type="application/atom+xml")
    feed.link(href=f"{base}/", rel="alternate", type="text/html", hreflang="fr-CA")
    feed.updated(snapshot.last_modified)
    for alert in snapshot.alerts[:MAX_ENTRIES]:
        entry = feed.add_entry(order="append")
        entry.id(cap_url(base, alert.id))
        titles = [headline(alert, lang, len(snapshot.zones)) for lang in LANGS]
        entry.title(x(" / ".join(titles)))
        entry.register_extension("typed_links", TypedLinks, atom=True, rss=False)
        entry.typed_links.add(cap_url(base, alert.id), "alternate", "application/cap+xml")
        entry.published(alert.created_at)
        entry.updated(alert.changed_at)
        entry.category(term=alert.kind, label=f"{say('fr', 'kind_' + alert.kind)} / "
                       f"{say('en', 'kind_' + alert.kind)}")  # fmt: skip
        for zone in alert.zones:
            entry.category(term=x(zone.slug), label=x(zone.name), scheme=f"{base}/zones/")
        entry.content(x(_entry_html(alert, snapshot, tz)), type="html")
    return Rendered(feed.atom_str(pretty=True), snapshot.last_modified, snapshot.valid_until)


def _entry_html(alert: PublicAlert, snapshot: Snapshot, tz: ZoneInfo) -> str:
    blocks = []
    for lang in LANGS:
        lines = [alert.text(lang), alert_when(alert, lang, tz, snapshot.now)]
        if alert.zones:
            lines.append(say(lang, "zones_label") + zone_names(alert.zones, lang))
        if alert.exercise:
            lines.insert(0, say(lang, "exercise"))
        if alert.withdrawn:
            lines.insert(0, say(lang, "cancelled"))
        paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
        blocks.append(f'<div lang="{say(lang, "html_lang")}">{paragraphs}</div>')
    return "".join(blocks)


def alerts_geojson(services: Services, snapshot: Snapshot, base: str) -> Rendered:
    """Current and upcoming alerts as GeoJSON features with their target area."""
    tz = services.settings.service.tz
    features = []
    for alert in snapshot.active_alerts():
        area, circle = target_shape(snapshot.layer, alert.target)
        properties: dict[str, Any] = {
            "id": alert.id,
            "kind": alert.kind,
            "status": alert.phase(snapshot.now),
            "exercise": alert.exercise,
            "urgent": alert.urgent,
            "headline_fr": headline(alert, "fr", len(snapshot.zones)),
            "headline_en": headline(alert, "en", len(snapshot.zones)),
            "text_fr": alert.body_fr,
            "text_en": alert.body_en,
            "zones": [{"name": z.name, "slug": z.slug} for z in alert.zones],
            "effective": format_local(alert.effective, tz),
            "onset": format_local(alert.onset, tz),
            "expires": format_local(alert.expires, tz),
            "correction_of": alert.correction_of,
            "operation_id": alert.operation_id,
            "cap": cap_url(base, alert.id),
        }
        if circle is not None:
            properties["center"] = [round(circle.lon, 6), round(circle.lat, 6)]
            properties["radius_m"] = circle.radius_m
        features.append(
            {
                "type": "Feature",
                "id": alert.id,
                "geometry": mapping(simplified(area)) if area is not None else None,
                "properties": properties,
            }
        )
    body = _json({"type": "FeatureCollection", "features": features})
    return Rendered(body, snapshot.last_modified, snapshot.valid_until)


def subscriber_counts(services: Services) -> dict[int, int]:
    """Active subscribers per zone id (each counted once per zone)."""
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(
                col(Subscription.zone_id),
                func.count(func.distinct(col(Subscription.subscriber_id))),
            )
            .join(Subscriber, col(Subscriber.id) == Subscription.subscriber_id)
            .where(col(Subscriber.status) == ACTIVE, col(Subscription.status) == ACTIVE)
            .group_by(col(Subscription.zone_id))
        ).all()
    return {zone_id: count for zone_id, count in rows if zone_id is not None}


def shown_count(count: int) -> int | str:
    """A subscriber count as published: "<10" below ten, else rounded down to a multiple of ten."""
    return f"<{COUNT_STEP}" if count < COUNT_STEP else count // COUNT_STEP * COUNT_STEP


def zones_geojson(snapshot: Snapshot, base: str, counts: dict[int, int]) -> Rendered:
    """The layer, simplified, with each zone's state and published subscriber count."""
    shapes = simplified_layer(snapshot.layer)
    features = []
    for zone, zone_ref in zip(snapshot.layer.layer.zones, snapshot.zones, strict=True):
        features.append(
            {
                "type": "Feature",
                "id": zone.slug,
                "geometry": mapping(shapes[zone.index]),
                "properties": {
                    "name": zone.name,
                    "slug": zone.slug,
                    "state": snapshot.zone_state(zone_ref.id),
                    "subscribers": shown_count(counts.get(zone_ref.id, 0)),
                    "area_km2": round(zone.area_km2, 3),
                    "url": f"{base}/zones/{zone.slug}",
                },
            }
        )
    body = _json({"type": "FeatureCollection", "features": features})
    return Rendered(body, snapshot.last_modified, snapshot.valid_until)


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def feeds_router(services: Services, cache: PublicCache) -> APIRouter:
    """Routes /alerts.atom, /alerts.geojson and /zones.geojson."""
    router = APIRouter()

    @router.get("/alerts.atom")
    async def alerts_atom(request: Request) -> Response:
        base = public_base(services, request)
        etag, rendered = await cache.run(
            lambda: cache.document(("atom", base), lambda snap: atom_feed(services, snap, base))
        )
        return conditional_response(request, etag, rendered, ATOM, cache_control=FEED_CACHE)

    @router.get("/alerts.geojson")
    async def alerts_map(request: Request) -> Response:
        base = public_base(services, request)
        etag, rendered = await cache.run(
            lambda: cache.document(
                ("alerts.geojson", base), lambda snap: alerts_geojson(services, snap, base)
            )
        )
        return conditional_response(request, etag, rendered, GEOJSON, cache_control=FEED_CACHE)

    @router.get("/zones.geojson")
    async def zones_map(request: Request) -> Response:
        base = public_base(services, request)

        def document() -> tuple[str, Rendered]:
            counts = subscriber_counts(services)
            # Counts are not in the fingerprint: render again when a published count changes.
            shown = tuple(sorted((zone_id, str(shown_count(n))) for zone_id, n in counts.items()))
            return cache.document(
                ("zones.geojson", base),
                lambda snapshot: zones_geojson(snapshot, base, counts),
                extra=shown,
            )

        etag, rendered = await cache.run(document)
        return conditional_response(request, etag, rendered, GEOJSON, cache_control=FEED_CACHE)

    return router
