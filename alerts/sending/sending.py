"""Operators' alerts: preview, queue (now or at a time), release when due, cancel and correct.

Everything an operator can get wrong (zone, area, template variable, length, time) is
checked by `prepare_alert`, before a single row is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, literal, select, update
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
    DELIVERY_TABLE,
    Target,
    TargetSpec,
    count_recipients,
    insert_deliveries,
    resolve_target,
    target_from_json,
)
from alerts.storage.audit import record_action
from alerts.storage.db import rowcount
from alerts.storage.models import Alert, Delivery, Notice, UTCDateTime, ZoneRecord
from alerts.wiring import Services

# Deliveries are claimed in ascending priority: urgent alerts and corrections first.
PRIORITY_URGENT = 0
PRIORITY_NORMAL = 1
NO_ZONE = "(no zone)"
# INSERT ... SELECT reports its row count only when asked to keep it.
_COUNTED = {"preserve_rowcount": True}
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


@dataclass(frozen=True)
class CancelResult:
    """What cancelling did: deliveries cancelled and the correction alert, if any."""

    alert_id: int
    state: str
    cancelled: int
    correction_id: int | None = None
    correction_recipients: int = 0
    already_cancelled: bool = False  # cancelled before this call: nothing new to stop
    earlier_correction_id: int | None = None  # with `once`: the correction queued before


# Deliveries that reached, or may have reached, a phone: they get the correction.
REACHED = ("sending", "sent", "delivered", "unknown")


def cancel_alert(
    services: Services,
    alert_id: int,
    notify: str | MessageSpec | AlertTexts | None = None,
    common: dict[str, dict[str, str]] | None = None,
    *,
    once: bool = False,
) -> CancelResult:
    """Cancel what is not sent yet; with `notify`, text a correction to those already reached.

    `notify` is one text for every language, a MessageSpec (a template with its values,
    which `common` completes per language) or texts already composed. With `once`, an alert
    already corrected gets no second correction (an operator's repeated command); an
    operation moved twice corrects twice.
    """
    now = services.clock()
    correction = (
        notify
        if notify is None or isinstance(notify, AlertTexts)
        else correction_texts(services, notify, common or {})
    )
    with services.session() as session:
        alert = session.get(Alert, alert_id, with_for_update=True)
        if alert is None:
            raise AlertNotFound(alert_id)
        already = alert.state == "cancelled"
        earlier = _latest_correction(session, alert_id) if once and correction else None
        released = _drop_release(session, alert) if alert.state == "scheduled" else []
        cancelled = _cancel_pending(session, alert, now)
        if correction is None or earlier is not None:
            if not already or cancelled:
                _record_cancel(services, session, alert_id, cancelled, None)
            result = CancelResult(
                alert_id, alert.state, cancelled, already_cancelled=already,
                earlier_correction_id=earlier,
            )  # fmt: skip
        else:
            fix = _queue_correction(session, alert, correction, now)
            fix.sent_by = services.operator
            _record_cancel(services, session, alert_id, cancelled, fix)
            assert fix.id is not None
            result = CancelResult(
                alert_id, alert.state, cancelled, fix.id, fix.recipients, already_cancelled=already
            )
    for notice_id in released:  # after the transaction: the job store writes on its own
        services.timer.remove_notice(notice_id)
    return result


def _drop_release(session: Session, alert: Alert) -> list[int]:
    """Cancel the notices that would release a scheduled alert; returns their ids, whose
    jobs are then taken out of the store."""
    mine = (
        col(Notice.alert_id) == alert.id,
        col(Notice.kind) == "alert",
        col(Notice.status) == "scheduled",
    )
    ids = list(session.execute(select(col(Notice.id)).where(*mine)).scalars())
    session.execute(
        update(Notice).where(*mine).values(status="cancelled", detail="alert cancelled")
    )
    return [notice_id for notice_id in ids if notice_id is not None]


def _latest_correction(session: Session, alert_id: int) -> int | None:
    """The id of the latest correction of an alert, if it has one."""
    return session.execute(
        select(func.max(col(Alert.id))).where(col(Alert.correction_of) == alert_id)
    ).scalar_one_or_none()


def _record_cancel(
    services: Services, session: Session, alert_id: int, cancelled: int, fix: Alert | None
) -> None:
    record_action(
        session, services.operator, "cancel", f"alert {alert_id}", now=services.clock(),
        cancelled=cancelled, correction=fix.id if fix else None,
        correction_recipients=fix.recipients if fix else None,
    )  # fmt: skip


def correction_texts(
    services: Services,
    notify: str | MessageSpec,
    common: dict[str, dict[str, str]],
    *,
    gsm_only: bool = False,
) -> AlertTexts:
    """A correction's texts, composed and checked as any alert's are (a preview's too)."""
    settings = services.settings
    spec = MessageSpec(text=notify) if isinstance(notify, str) else notify
    templates = {"fr": settings.templates.fr, "en": settings.templates.en}
    return compose_alert(
        spec,
        Templates(templates, settings.templates.gsm_only),
        common=common,
        gsm_only=gsm_only,
        max_segments=settings.send.max_segments,
    )


def _cancel_pending(session: Session, alert: Alert, now: datetime) -> int:
    """Cancel an alert's queued deliveries and the alert itself if it is not over; returns
    how many deliveries were cancelled."""
    cancelled = rowcount(
        session.execute(
            update(Delivery)
            .where(col(Delivery.alert_id) == alert.id, col(Delivery.state) == "queued")
            .values(state="cancelled", finished_at=now, lease_owner=None, lease_until=None)
        )
    )
    if alert.state in ("scheduled", "queued", "sending"):
        alert.state, alert.cancelled_at = "cancelled", now
        alert.finished_at = alert.finished_at or now
        session.add(alert)
    return int(cancelled)


def _queue_correction(
    session: Session, alert: Alert, correction: AlertTexts, now: datetime
) -> Alert:
    """An urgent correction alert, queued to everyone the alert reached or may have reached."""
    fix = Alert(
        kind=alert.kind,
        state="queued",
        urgent=True,
        body_fr=correction.fr.text,
        body_en=correction.en.text,
        target={"kind": "correction", "of": alert.id},
        segments_fr=correction.fr.segments,
        segments_en=correction.en.segments,
        correction_of=alert.id,
        created_at=now,
    )
    session.add(fix)
    session.flush()
    when = literal(now, UTCDateTime())
    reached = select(
        literal(fix.id), col(Delivery.subscriber_id), col(Delivery.zone_id),
        col(Delivery.lang), literal("queued"), literal(PRIORITY_URGENT), literal(0), when, when,
    ).where(
        col(Delivery.alert_id) == alert.id,
        col(Delivery.state).in_(REACHED),
        col(Delivery.subscriber_id).is_not(None),
    )  # fmt: skip
    columns = [
        "alert_id", "subscriber_id", "zone_id", "lang", "state", "priority", "attempts",
        "next_attempt_at", "created_at",
    ]  # fmt: skip
    fix.recipients = int(
        rowcount(
            session.execute(
                insert(DELIVERY_TABLE).from_select(columns, reached),
                execution_options=_COUNTED,
            )
        )
    )
    if not fix.recipients:
        fix.state, fix.finished_at = "done", now
    session.add(fix)
    return fix


def count_by_state(session: Session, alert_id: int) -> dict[str, int]:
    """An alert's deliveries counted by state."""
    rows = session.execute(
        select(col(Delivery.state), func.count())
        .where(col(Delivery.alert_id) == alert_id)
        .group_by(col(Delivery.state))
    ).all()
    return {state: count for state, count in rows}
