"""Status callbacks: the provider says a message was sent, delivered or not; rows follow.

Every callback is stored first (status_event), then applied to the delivery whose provider
id it names. A callback can beat the dispatcher's own record of the send (Twilio may call
back before the create request returns to us): it then waits, unapplied, and is applied the
moment the delivery gets its provider id, or by the next sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import false, select, update
from sqlmodel import Session, col

from alerts.config import Settings
from alerts.gateways.gateway import ErrorKind, classify
from alerts.storage import store
from alerts.storage.models import OPTED_OUT, Alert, Delivery, StatusEvent, Subscriber
from alerts.wiring import Services

# Twilio's message statuses and ours; None: nothing to record.
_STATE_OF_STATUS: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# How far along a delivery is: a callback never moves a row back (a late "sent" after
# "delivered" is ignored), though a late "delivered" does overrule "undelivered".
_RANK = {"queued": 0, "sending": 0, "unknown": 0, "sent": 1, "undelivered": 2, "failed": 2,
         "delivered": 3}  # fmt: skip
# Handset trouble worth another try; 30005 (unknown handset) can be permanent, hence the cap.
_REDELIVER_CODES = frozenset({"30003", "30005"})
_PENDING_FOR = 24 * 3600  # seconds a callback waits for its delivery to be recorded


def record_status(
    services: Services, message_sid: str, status: str, error_code: str | None = None
) -> str | None:
    """Store a status callback and apply it; the delivery's state, or None if not known yet."""
    now = services.clock()
    code = (str(error_code).strip() or None) if error_code is not None else None
    with services.session() as session:
        event = StatusEvent(
            message_sid=message_sid[:64],
            status=status.strip().lower()[:16],
            error_code=code[:16] if code else None,
            received_at=now,
        )
        session.add(event)
        session.flush()
        delivery = session.execute(
            select(Delivery).where(col(Delivery.provider_id) == event.message_sid).with_for_update()
        ).scalar_one_or_none()
        if delivery is None:
            return None
        apply_event(session, services.settings, delivery, event, now)
        return delivery.state


def apply_event(
    session: Session, settings: Settings, delivery: Delivery, event: StatusEvent, now: datetime
) -> None:
    """Move one delivery as a callback says, with its side effects (opt-out, suppression)."""
    event.applied = True
    session.add(event)
    state = _STATE_OF_STATUS.get(event.status)
    if state is None or _RANK.get(delivery.state, 9) >= _RANK[state]:
        return
    if state != "sent":
        delivery.finished_at = now
    if event.error_code:
        delivery.error_code = event.error_code
    delivery.state = state
    if state in ("undelivered", "failed") and event.error_code:
        _act_on_code(session, settings, delivery, event.error_code, now)
    session.add(delivery)


def _act_on_code(
    session: Session, settings: Settings, delivery: Delivery, code: str, now: datetime
) -> None:
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    kind = classify(None, code)
    if kind is ErrorKind.OPTED_OUT and subscriber is not None:
        opt_out(session, subscriber, code, now)
    elif kind is ErrorKind.RECIPIENT_INVALID and subscriber is not None:
        store.suppress(session, subscriber.phone, "invalid", now, code)
    elif code in _REDELIVER_CODES and _may_redeliver(session, settings, delivery):
        delay = timedelta(seconds=settings.dispatch.redeliver_delay_seconds)
        delivery.state, delivery.finished_at = "queued", None
        delivery.redeliveries += 1
        delivery.next_attempt_at = now + delay
        # Forget the old message: its late callbacks must not move the new attempt.
        delivery.provider_id, delivery.lease_owner, delivery.lease_until = None, None, None
        session.execute(
            update(Alert)
            .where(col(Alert.id) == delivery.alert_id, col(Alert.state) == "done")
            .values(state="sending", finished_at=None)
        )


def _may_redeliver(session: Session, settings: Settings, delivery: Delivery) -> bool:
    if delivery.redeliveries >= settings.dispatch.redeliver_attempts:
        return False
    alert_state = session.execute(
        select(col(Alert.state)).where(col(Alert.id) == delivery.alert_id)
    ).scalar_one_or_none()
    return alert_state in ("queued", "sending", "done")


def opt_out(session: Session, subscriber: Subscriber, code: str | None, now: datetime) -> None:
    """The provider says this person replied STOP: never text them again."""
    subscriber.status = OPTED_OUT
    subscriber.opted_out_at = subscriber.opted_out_at or now
    subscriber.updated_at = now
    session.add(subscriber)
    store.suppress(session, subscriber.phone, "opt_out", now, code)


def apply_pending_status_events(services: Services, limit: int = 1000) -> int:
    """Apply stored callbacks whose delivery has since got its provider id; how many.

    Workers call this every few seconds. Callbacks for messages this service never recorded
    stay unapplied; after a day they are no longer looked at.
    """
    now = services.clock()
    with services.session() as session:
        rows = session.execute(
            select(StatusEvent, Delivery)
            .join(Delivery, col(Delivery.provider_id) == StatusEvent.message_sid)
            .where(
                col(StatusEvent.applied) == false(),
                col(StatusEvent.received_at) > now - timedelta(seconds=_PENDING_FOR),
            )
            .order_by(col(StatusEvent.id))
            .limit(limit)
        ).all()
        for event, delivery in rows:
            apply_event(session, services.settings, delivery, event, now)
        return len(rows)
