"""What an operation's notices say: the alert request behind a notice, reminder or all-clear."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.core.composition import MessageSpec
from alerts.errors import InvalidInput
from alerts.sending.sending import AlertRequest
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Notice, Operation, Recurrence
from alerts.wiring import Services

# (operation kind, notice kind) -> template of alerts.core.composition.
TEMPLATES = {
    ("snow", "notice"): "snow",
    ("snow", "reminder"): "snow_reminder",
    ("snow", "all_clear"): "snow_end",
    ("radar", "notice"): "radar",
    ("radar", "reminder"): "radar",
}


def operation_variables(operation: Operation, tz: ZoneInfo) -> dict[str, str]:
    """Template values of an operation: start, parking-ban hours, place and date."""
    start, end = operation.start_at.astimezone(tz), operation.end_at.astimezone(tz)
    return {
        "start": _minute(start),
        "hours": f"{start:%H:%M}-{end:%H:%M}",
        "date": _minute(start),
        "place": operation.location or ", ".join(operation.zone_names),
    }


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def operation_request(
    operation: Operation, template: str, tz: ZoneInfo, urgent: bool = False
) -> AlertRequest:
    """The alert an operation sends with this template, to its zones.

    GSM-7 only: a zone name such as "Côte-Blanche" would otherwise turn every notice into
    UCS-2, doubling its cost and perhaps pushing it past the segment limit at send time.
    """
    return AlertRequest(
        kind=operation.kind,
        target=TargetSpec(zones=tuple(operation.zone_names)),
        message=MessageSpec(template=template, variables=operation_variables(operation, tz)),
        gsm_only=True,
        urgent=urgent or operation.urgent,
    )


def request_for(services: Services, session: Session, notice: Notice) -> AlertRequest:
    """The alert a due notice sends."""
    tz = services.settings.service.tz
    if notice.operation_id is not None:
        operation = session.get(Operation, notice.operation_id)
        if operation is None:
            raise InvalidInput(f"notice {notice.id}: its operation is gone")
        template = TEMPLATES.get((operation.kind, notice.kind))
        if template is None:
            raise InvalidInput(f"notice {notice.id}: no {notice.kind} for {operation.kind}")
        return operation_request(operation, template, tz, notice.urgent)
    if notice.recurrence_id is not None:
        recurrence = session.get(Recurrence, notice.recurrence_id)
        if recurrence is None:
            raise InvalidInput(f"notice {notice.id}: its recurring schedule is gone")
        return recurrence_request(recurrence.request)
    raise InvalidInput(f"notice {notice.id} has nothing to send")


def recurrence_request(stored: dict[str, Any]) -> AlertRequest:
    """The alert request a recurring schedule stored, rebuilt."""
    target, message = stored["target"], stored["message"]
    return AlertRequest(
        kind=stored["kind"],
        target=TargetSpec(
            zones=tuple(target.get("zones") or ()),
            area=target.get("area"),
            area_geometry=target.get("area_geometry"),
            near=target.get("near"),
            radius_m=target.get("radius_m"),
            everyone=bool(target.get("everyone")),
        ),
        message=MessageSpec(
            text=message.get("text"),
            text_fr=message.get("text_fr"),
            text_en=message.get("text_en"),
            template=message.get("template"),
            variables=dict(message.get("variables") or {}),
        ),
        gsm_only=bool(stored.get("gsm_only")),
        urgent=bool(stored.get("urgent")),
    )


def stored_request(request: AlertRequest, area: dict[str, Any] | None = None) -> dict[str, Any]:
    """An alert request as JSON, for a recurring schedule to rebuild it each time.

    `area` is the drawn area's geometry (GeoJSON), kept instead of rereading its file.
    """
    target, message = request.target, request.message
    return {
        "kind": request.kind,
        "target": {
            "zones": list(target.zones),
            "area": target.area,
            "area_geometry": area,
            "near": target.near,
            "radius_m": target.radius_m,
            "everyone": target.everyone,
        },
        "message": {
            "text": message.text,
            "text_fr": message.text_fr,
            "text_en": message.text_en,
            "template": message.template,
            "variables": dict(message.variables),
        },
        "gsm_only": request.gsm_only,
        "urgent": request.urgent,
    }
