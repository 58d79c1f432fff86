"""Cancelling an alert: what is not sent yet stops, and those already reached get a correction.

The correction is an urgent alert of its own (`correction_of`), queued in the transaction
that cancels, to every delivery that reached or may have reached a phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, literal, select, update
from sqlmodel import Session, col

from alerts.core.composition import (
    AlertTexts,
    MessageSpec,
    Templates,
    compose_alert,
)
from alerts.sending.sending import COUNTED, PRIORITY_URGENT, AlertNotFound
from alerts.sending.targeting import (
    DELIVERY_TABLE,
)
from alerts.storage.audit import record_action
from alerts.storage.db import rowcount
from alerts.storage.models import Alert, Delivery, Notice, UTCDateTime
from alerts.wiring import Services


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
                execution_options=COUNTED,
            )
        )
    )
    if not fix.recipients:
        fix.state, fix.finished_at = "done", now
    session.add(fix)
    return fix
