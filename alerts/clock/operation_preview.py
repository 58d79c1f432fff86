"""An operation's preview: what each pending notice will say, to whom, and at what cost.

Like the send preview: both languages' texts with their encoding and segments, the
recipients the operation's zones reach now (by language) and the segments and cost of the
notices still to go out. Recipients are counted now; a notice counts again when it fires.
"""

from __future__ import annotations

from typing import Any

from alerts.clock.notices import SCHEDULED
from alerts.clock.operation_messages import TEMPLATES, operation_request
from alerts.core.composition import LANGS
from alerts.errors import AlertsError
from alerts.sending.sending import Draft, prepare_alert
from alerts.storage.models import Operation
from alerts.wiring import Services
from zones.errors import ZoneError

# The keys each notice of a preview gains (None where nothing is left to send).
NOTICE_KEYS = (
    "template", "text", "encoding", "segments", "replaced", "recipients", "total_segments",
    "estimated_cost",
)  # fmt: skip


def with_preview(services: Services, shown: dict[str, Any]) -> dict[str, Any]:
    """An operation as `operations show` lists it, with the texts, recipients and cost of
    its pending notices (each notice gains NOTICE_KEYS; the operation gains totals)."""
    with services.session(read_only=True) as session:
        operation = session.get(Operation, shown["id"])
    assert operation is not None, "shown operations exist"
    tz = services.settings.service.tz
    send = services.settings.send
    problem: str | None = None
    now: Draft | None = None
    notices: list[dict[str, Any]] = []
    for notice in shown["notices"]:
        template = TEMPLATES.get((operation.kind, notice["kind"]))
        entry: dict[str, Any] = {**notice, **dict.fromkeys(NOTICE_KEYS), "template": template}
        if template is not None and notice["status"] == SCHEDULED and problem is None:
            request = operation_request(operation, template, tz, notice["urgent"])
            try:
                draft = prepare_alert(services, request)
            except (AlertsError, ZoneError) as exc:
                # A zone renamed or dropped by a new layer since: shown, not a failure.
                problem = str(exc)
            else:
                entry.update(_notice_preview(draft))
                now = now or draft
        notices.append(entry)
    if now is None and problem is None:
        now, problem = _reach(services, operation)
    segments = sum(entry["total_segments"] or 0 for entry in notices)
    return {
        **shown,
        "notices": notices,
        "recipients": now.recipients if now else None,
        "by_lang": dict(now.by_lang) if now else None,
        "total_segments": segments,
        "estimated_cost": round(segments * send.price_per_segment, 2),
        "currency": send.currency,
        "preview_error": problem,
    }


def _notice_preview(draft: Draft) -> dict[str, Any]:
    texts = draft.texts
    return {
        "text": {lang: texts[lang].text for lang in LANGS},
        "encoding": {lang: texts[lang].encoding for lang in LANGS},
        "segments": {lang: texts[lang].segments for lang in LANGS},
        "replaced": texts.changed,
        "recipients": draft.recipients,
        "total_segments": draft.estimate.total_segments,
        "estimated_cost": draft.estimate.cost,
    }


def _reach(services: Services, operation: Operation) -> tuple[Draft | None, str | None]:
    """Whom the operation reaches now, when none of its notices is pending."""
    template = TEMPLATES.get((operation.kind, "notice"))
    if template is None:
        return None, None
    tz = services.settings.service.tz
    try:
        return prepare_alert(services, operation_request(operation, template, tz)), None
    except (AlertsError, ZoneError) as exc:
        return None, str(exc)
