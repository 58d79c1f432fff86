"""Operators' alerts: preview, queue (now or at a time) and release when due (cancelling and
correcting them: alerts.sending.cancelling).

Everything an operator can get wrong (zone, area, template variable, length, time) is
checked by `prepare_alert`, before a single row is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from alerts.core.composition import (
    KINDS,
    LANGS,
    AlertTexts,
    Estimate,
    MessageSpec,
    Templates,
    compose_alert,
    estimate,
    join_names,
)
from alerts.core.local_time import format_local, parse_local_time
from alerts.core.schedule_rules import release_time
from alerts.errors import InvalidOption, NotFound, UsageError
from alerts.sending.targeting import (
    Target,
    TargetSpec,
    count_recipients,
    insert_deliveries,
    resolve_target,
    target_from_json,
)
from alerts.storage.audit import record_action
from alerts.storage.db import rowcount
from alerts.storage.models import Alert, Delivery, Notice, ZoneRecord
from alerts.wiring import Services

# Deliveries are claimed in ascending priority: urgent alerts and corrections first.
PRIORITY_URGENT = 0
PRIORITY_NORMAL = 1
NO_ZONE = "(no zone)"
# INSERT ... SELECT reports its row count only when asked to keep it.
COUNTED = {"preserve_rowcount": True}
# A time this far in the past is taken for a typo rather than "now".
_PAST_TOLERANCE = timedelta(minutes=1)


class AlertNotFound(NotFound):
    """No alert has this id."""

    def __init__(self, alert_id: int) -> None:
        super().__init__(f"no alert with id {alert_id}")


@dataclass(frozen=True)
class AlertRequest:
    """An operator's send, as typed."""

    kind: str
    target: TargetSpec
    message: MessageSpec
    gsm_only: bool = False
    at: str | None = None  # local wall-clock time in the service's zone, or ISO with offset
    urgent: bool = False


@dataclass(frozen=True)
class Draft:
    """A checked alert and its preview, not yet written anywhere."""

    request: AlertRequest
    target: Target
    texts: AlertTexts
    by_zone: dict[str, int]
    by_lang: dict[str, int]
    estimate: Estimate
    scheduled_for: datetime | None

    @property
    def recipients(self) -> int:
        """Recipients counted for the preview."""
        return self.estimate.recipients


@dataclass(frozen=True)
class QueuedAlert:
    """What queueing wrote: the alert's id, state and recipients."""

    alert_id: int
    state: str
    recipients: int
    scheduled_for: datetime | None


def prepare_alert(services: Services, request: AlertRequest) -> Draft:
    """Resolve the target, compose both texts and count recipients; nothing is written."""
    settings = services.settings
    if request.kind not in KINDS:
        raise UsageError(f"unknown kind {request.kind!r} (use {', '.join(KINDS)})")
    scheduled_for = None
    if request.at is not None:
        scheduled_for = parse_local_time(request.at, settings.service.tz)
        if scheduled_for < services.clock() - _PAST_TOLERANCE:
            shown = format_local(scheduled_for, settings.service.tz)
            raise InvalidOption(f"--at {request.at} is in the past ({shown})")
        # A normal alert asked for during quiet hours waits for their end: the preview, the
        # --json document and the schedule all show the time it will really go out.
        scheduled_for = release_time(
            scheduled_for, settings.schedule.quiet_hours, settings.service.tz, urgent=request.urgent
        )
    target = resolve_target(services, request.target)
    texts = compose_alert(
        request.message,
        Templates(
            {"fr": settings.templates.fr, "en": settings.templates.en}, settings.templates.gsm_only
        ),
        common=_common_values(services, target),
        gsm_only=request.gsm_only,
        max_segments=settings.send.max_segments,
    )
    with services.session(read_only=True) as session:
        counts = count_recipients(session, target, request.kind, settings.service.default_lang)
        names = _zone_names(session, {zone_id for zone_id, _ in counts})
    by_zone: dict[str, int] = {}
    by_lang = dict.fromkeys(LANGS, 0)
    for (zone_id, lang), count in sorted(counts.items(), key=lambda item: str(item[0])):
        name = names.get(zone_id, NO_ZONE) if zone_id is not None else NO_ZONE
        by_zone[name] = by_zone.get(name, 0) + count
        by_lang[lang] += count
    dispatch = settings.dispatch
    cost = estimate(
        by_lang,
        texts,
        price_per_segment=settings.send.price_per_segment,
        currency=settings.send.currency,
        rate_per_second=dispatch.rate_per_second,
        rate_unit=dispatch.rate_unit,
        validity_seconds=settings.twilio.validity_period,
    )
    by_zone = dict(sorted(by_zone.items()))
    return Draft(request, target, texts, by_zone, by_lang, cost, scheduled_for)


def _common_values(services: Services, target: Target) -> dict[str, dict[str, str]]:
    service = services.settings.service
    values = {"fr": {"service": service.name_fr}, "en": {"service": service.name_en}}
    if target.zone_names:
        for lang in LANGS:
            values[lang]["zone"] = join_names(target.zone_names, lang)
    return values


def _zone_names(session: Session, zone_ids: set[int | None]) -> dict[int, str]:
    wanted = [zone_id for zone_id in zone_ids if zone_id is not None]
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(col(ZoneRecord.id), col(ZoneRecord.name)).where(col(ZoneRecord.id).in_(wanted))
        ).all()
    )


def queue_alert(services: Services, draft: Draft) -> QueuedAlert:
    """Write the alert and, unless it is scheduled, one queued delivery per recipient; the
    operator's send is recorded with it."""
    with services.session() as session:
        queued = write_alert(services, session, draft, sent_by=services.operator)
        _record_send(services, session, draft, queued)
    if queued.scheduled_for is not None:
        schedule_alert(services, queued, draft.request)
    return queued


def schedule_alert(services: Services, queued: QueuedAlert, request: AlertRequest) -> int:
    """Arm the release of an alert queued with `send --at`: its notice, and the notice's job
    at the alert's `scheduled_for` (already moved past quiet hours). Returns the notice id."""
    assert queued.scheduled_for is not None
    with services.session() as session:
        notice = Notice(
            kind="alert",
            alert_id=queued.alert_id,
            due_at=queued.scheduled_for,
            urgent=request.urgent,
        )
        session.add(notice)
        session.flush()
        notice_id = notice.id
    assert notice_id is not None
    grace = services.settings.schedule.grace(request.kind)
    services.timer.add_notice(notice_id, queued.scheduled_for, grace)
    return notice_id


def _record_send(services: Services, session: Session, draft: Draft, queued: QueuedAlert) -> None:
    target = draft.target
    record_action(
        session, services.operator, "send", f"alert {queued.alert_id}", now=services.clock(),
        kind=draft.request.kind, target=target.kind, zones=list(target.zone_names) or None,
        recipients=queued.recipients, urgent=draft.request.urgent or None,
        scheduled_for=queued.scheduled_for,
    )  # fmt: skip


def write_alert(
    services: Services, session: Session, draft: Draft, *, sent_by: str | None = None
) -> QueuedAlert:
    """The writes of queue_alert, in the caller's transaction (the scheduler's, say);
    `sent_by` is the operator (None for the clock's notices)."""
    request = draft.request
    now = services.clock()
    alert = Alert(
        kind=request.kind,
        state="scheduled" if draft.scheduled_for else "queued",
        urgent=request.urgent,
        exercise=services.settings.service.exercise,
        body_fr=draft.texts.fr.text,
        body_en=draft.texts.en.text,
        target=draft.target.as_json(),
        recipients=draft.recipients,
        segments_fr=draft.texts.fr.segments,
        segments_en=draft.texts.en.segments,
        scheduled_for=draft.scheduled_for,
        created_at=now,
        sent_by=sent_by,
    )
    session.add(alert)
    session.flush()
    assert alert.id is not None
    if draft.scheduled_for is None:
        _fan_out(services, session, alert, draft.target, now)
    return QueuedAlert(alert.id, alert.state, alert.recipients, alert.scheduled_for)


def _fan_out(
    services: Services, session: Session, alert: Alert, target: Target, now: datetime
) -> None:
    assert alert.id is not None
    alert.recipients = insert_deliveries(
        session,
        target,
        kind=alert.kind,
        alert_id=alert.id,
        priority=PRIORITY_URGENT if alert.urgent else PRIORITY_NORMAL,
        now=now,
        default_lang=services.settings.service.default_lang,
    )
    alert.state = "queued" if alert.recipients else "done"
    alert.finished_at = None if alert.recipients else now
    session.add(alert)


def send_alert(services: Services, request: AlertRequest) -> QueuedAlert:
    """Prepare and queue in one call (no preview, no confirmation: for tests and jobs)."""
    return queue_alert(services, prepare_alert(services, request))


def due_alerts(services: Services) -> list[int]:
    """Ids of scheduled alerts whose time has come, oldest first."""
    with services.session(read_only=True) as session:
        return list(
            session.execute(
                select(col(Alert.id))
                .where(
                    col(Alert.state) == "scheduled",
                    col(Alert.scheduled_for) <= services.clock(),
                )
                .order_by(col(Alert.scheduled_for), col(Alert.id))
            ).scalars()
        )


def release_scheduled_alert(services: Services, alert_id: int) -> int:
    """Queue a scheduled alert's deliveries, with today's subscribers; returns the count.

    Safe to call twice or from two processes: only the call that moves the alert out of
    "scheduled" writes deliveries, and a cancelled alert is left alone (0).
    """
    with services.session() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        if alert.state != "scheduled":
            return 0
        claimed = session.execute(
            update(Alert)
            .where(col(Alert.id) == alert_id, col(Alert.state) == "scheduled")
            .values(state="queued")
        )
        if rowcount(claimed) != 1:
            return 0
        session.refresh(alert)
        _fan_out(
            services, session, alert, target_from_json(services, alert.target), services.clock()
        )
        return alert.recipients


def count_by_state(session: Session, alert_id: int) -> dict[str, int]:
    """An alert's deliveries counted by state."""
    rows = session.execute(
        select(col(Delivery.state), func.count())
        .where(col(Delivery.alert_id) == alert_id)
        .group_by(col(Delivery.state))
    ).all()
    return {state: count for state, count in rows}
