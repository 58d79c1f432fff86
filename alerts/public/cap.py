"""OASIS CAP 1.2 documents of alerts: /alerts/{id}.cap.xml.

How the service's alerts map onto CAP:
- msgType: Alert; Update for a correction (it references the alert it corrects); Cancel for a
  withdrawn alert (cancelled, or of a cancelled operation): a new message, identifier
  suffixed ":cancel", sent when it was cancelled, referencing the alert it withdraws.
- status: Exercise for alerts made with service.exercise (and their corrections), else Actual.
- One info per language (fr-CA, en-CA). category Transport for snow removal and photo radar
  (streets, parking, traffic), Other for notices; urgency Immediate for urgent alerts, else
  Expected when the onset is within an hour of sending, else Future; severity Minor
  (Moderate if urgent): towing or a ticket, no threat to life; certainty Likely (planned).
- effective, onset and expires follow alerts.public.public_notices (the operation's window).
- area: areaDesc in the info's language; polygons in "lat,lon" order, closed, outer rings
  simplified to at most alert_areas.CAP_MAX_POINTS points; a radius target adds its circle.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from alerts.config import Settings
from alerts.core.local_time import format_local
from alerts.public.alert_areas import cap_polygons, target_shape
from alerts.public.feeds import public_base
from alerts.public.public_cache import PublicCache, Rendered, conditional_response
from alerts.public.public_notices import PublicAlert, PublicAlertNotFound, load_alert
from alerts.public.public_wording import LANGS, area_description, headline, say
from alerts.public.xml_text import xml_text
from alerts.storage.zone_catalog import StoredLayer
from alerts.wiring import Services

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
_CATEGORY = {"snow": "Transport", "radar": "Transport", "info": "Other"}
# CAP advises headlines of about 160 characters: some receivers show no more.
_HEADLINE_MAX = 160


def cap_sender(settings: Settings) -> str:
    """The CAP sender: configured, else the public address's host, else a reserved name."""
    service = settings.service
    if service.cap_sender:
        return service.cap_sender
    host = urlparse(service.public_url).hostname if service.public_url else None
    return host or "neighbourhood-alerts.invalid"


def identifier(sender: str, alert_id: int, cancel: bool = False) -> str:
    """A CAP identifier, unique for this sender (no spaces, commas, < or &)."""
    return f"{sender}:alert:{alert_id}" + (":cancel" if cancel else "")


def msg_type(alert: PublicAlert) -> str:
    """Alert, Update (a correction) or Cancel (a withdrawn alert)."""
    if alert.withdrawn:
        return "Cancel"
    return "Update" if alert.correction_of else "Alert"


def cap_document(
    services: Services,
    alert: PublicAlert,
    base: str,
    layer: StoredLayer,
    original: PublicAlert | None = None,
) -> bytes:
    """The CAP 1.2 XML of an alert; `original` is the alert a correction corrects."""
    settings = services.settings
    tz = settings.service.tz
    sender = cap_sender(settings)
    kind = msg_type(alert)
    sent = (alert.cancelled_at or alert.changed_at) if kind == "Cancel" else alert.created_at
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _add(root, "identifier", identifier(sender, alert.id, cancel=kind == "Cancel"))
    _add(root, "sender", sender)
    _add(root, "sent", format_local(sent, tz))
    _add(root, "status", "Exercise" if alert.exercise else "Actual")
    _add(root, "msgType", kind)
    _add(root, "scope", "Public")
    if kind == "Cancel":
        _add(root, "note", f"{say('fr', 'cancel_note')} / {say('en', 'cancel_note')}")
        _add(root, "references", _reference(sender, alert.id, alert.created_at, tz))
    elif kind == "Update" and original is not None:
        _add(root, "references", _reference(sender, original.id, original.created_at, tz))
    area, circle = target_shape(layer, alert.target)
    polygons = cap_polygons(area) if area is not None else []
    for lang in LANGS:
        info = _add(root, "info")
        _add(info, "language", say(lang, "cap_lang"))
        _add(info, "category", _CATEGORY.get(alert.kind, "Other"))
        _add(info, "event", say(lang, "event_" + alert.kind))
        _add(info, "urgency", _urgency(alert))
        _add(info, "severity", "Moderate" if alert.urgent else "Minor")
        _add(info, "certainty", "Likely")
        _add(info, "effective", format_local(alert.effective, tz))
        _add(info, "onset", format_local(alert.onset, tz))
        _add(info, "expires", format_local(alert.expires, tz))
        _add(
            info,
            "senderName",
            settings.service.name_fr if lang == "fr" else settings.service.name_en,
        )
        _add(info, "headline", headline(alert, lang, len(layer.layer.zones))[:_HEADLINE_MAX])
        _add(info, "description", alert.text(lang))
        instruction = say(lang, "instruction_" + alert.kind)
        if instruction:
            _add(info, "instruction", instruction)
        _add(info, "web", _web(base, alert, lang))
        _add(info, "contact", settings.service.support_contact)
        where = _add(info, "area")
        description = area_description(alert, lang, len(layer.layer.zones))
        _add(where, "areaDesc", description or say(lang, "whole_territory"))
        for polygon in polygons:
            _add(where, "polygon", polygon)
        if circle is not None:
            _add(where, "circle", f"{circle.lat:.5f},{circle.lon:.5f} {circle.radius_m / 1000:g}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)


def _add(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        # ElementTree writes control characters as they are: the document would not be XML.
        element.text = xml_text(text)
    return element


def _reference(sender: str, alert_id: int, sent: datetime, tz: ZoneInfo) -> str:
    return f"{sender},{identifier(sender, alert_id)},{format_local(sent, tz)}"


def _urgency(alert: PublicAlert) -> str:
    if alert.urgent:
        return "Immediate"
    return "Expected" if alert.onset - alert.effective <= timedelta(hours=1) else "Future"


def _web(base: str, alert: PublicAlert, lang: str) -> str:
    prefix = "" if lang == "fr" else "/en"
    if len(alert.zones) == 1:
        return f"{base}{prefix}/zones/{alert.zones[0].slug}"
    return f"{base}{prefix or '/'}"


def render_cap(services: Services, alert_id: int, base: str) -> Rendered:
    """An alert's CAP document with its last change (a cancellation changes it)."""
    alert = load_alert(services, alert_id)
    original = None
    if alert.correction_of is not None:
        try:
            original = load_alert(services, alert.correction_of)
        except PublicAlertNotFound:
            original = None
    body = cap_document(services, alert, base, services.zones.stored(), original)
    return Rendered(body, alert.changed_at)


def cap_router(services: Services, cache: PublicCache) -> APIRouter:
    """Route /alerts/{id}.cap.xml."""
    router = APIRouter()

    @router.get("/alerts/{alert_id}.cap.xml")
    async def cap_alert(alert_id: int, request: Request) -> Response:
        base = public_base(services, request)
        try:
            etag, rendered = await cache.run(
                lambda: cache.document(
                    ("cap", base, alert_id), lambda _: render_cap(services, alert_id, base)
                )
            )
        except PublicAlertNotFound as exc:
            return Response(f"{exc}\n", status_code=404, media_type="text/plain")
        return conditional_response(request, etag, rendered, CAP_MEDIA_TYPE)

    return router
