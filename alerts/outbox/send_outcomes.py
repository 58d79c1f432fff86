"""What a send's outcome does to its delivery: sent, retried later, or failed and acted on.

Retryable failures come back with exponential backoff and jitter, bounded by attempts and
age. A number that cannot receive SMS is suppressed; a person who replied STOP is opted out;
a text the provider refuses stops its whole alert; an account or sender problem stops the
worker and leaves the queue as it was.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, bindparam, or_, select, update
from sqlmodel import Session, col

from alerts.config import DispatchSettings, Settings
from alerts.gateways.gateway import ErrorKind, GatewayError, SendReceipt
from alerts.sending.delivery_status import opt_out
from alerts.storage import store
from alerts.storage.models import Alert, Delivery, Subscriber, table_of

_TABLE = table_of(Delivery)
# Transport failures after which the provider may hold the message anyway.
MAYBE_SENT = frozenset({"timeout", "connection"})
# With a provider log, such a delivery is looked up this long after the failure (time for a
# request still on its way to land) instead of being sent again blind.
LOOK_UP_AFTER = timedelta(seconds=5)
# Errors of the account or sender, not of one recipient: retrying every row would fail them
# all, so the worker stops and leaves the queue as it was.
_SYSTEMIC = frozenset(
    {"20003", "21212", "21603", "21606", "21408", "http-401", "http-403", "proxy-auth"}
)
_ERROR_TEXT = 200


@dataclass(frozen=True)
class Job:
    """One claimed delivery, marked sending, ready to go."""

    delivery_id: int
    alert_id: int
    phone: str
    body: str
    cost: float  # in units of the rate: 1 message, or its segments


@dataclass(frozen=True)
class SendOutcome:
    """What became of one job: a receipt, an error, or neither (never sent, give it back)."""

    job: Job
    receipt: SendReceipt | None = None
    error: GatewayError | None = None


@dataclass
class Tally:
    """What one or more commits did."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    claimed: int = 0


def is_systemic(error: GatewayError) -> bool:
    """Whether an error is the account's or sender's (stop) rather than one recipient's."""
    return (error.code or "") in _SYSTEMIC or error.http_status in (401, 403)


def retry_delay(
    attempts: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with equal jitter, never shorter than the provider's Retry-After."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return max(ceiling / 2 + rand() * ceiling / 2, retry_after or 0.0)


def record_outcomes(
    session: Session,
    outcomes: list[SendOutcome],
    *,
    owner: str,
    settings: Settings,
    now: datetime,
    tally: Tally,
    reconciles: bool = False,
) -> None:
    """Record what the gateway said about each job, and act on it.

    `reconciles`: the gateway's provider keeps a log that is searched before a delivery
    whose answer was lost is sent again.
    """
    sent = [o for o in outcomes if o.error is None and o.receipt is not None]
    if sent:
        session.connection().execute(
            _SENT,
            [
                {
                    "b_id": o.job.delivery_id,
                    "b_owner": owner,
                    "b_provider_id": o.receipt.provider_id[:64],
                    "b_segments": o.receipt.segments,
                    "b_now": now,
                }
                for o in sent
                if o.receipt is not None
            ],
        )
        tally.sent += len(sent)
    unsent = [o.job.delivery_id for o in outcomes if o.error is None and o.receipt is None]
    if unsent:  # claimed, then the worker stopped before sending: back in the queue
        session.connection().execute(_GIVE_BACK, {"b_ids": unsent, "b_owner": owner})
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        _record_failures(session, failed, owner, settings, now, tally, reconciles)


@dataclass(frozen=True)
class FailureDecision:
    """What a failed send does to its delivery, and what else it calls for."""

    state: str  # "queued" (tried again, or given back untouched), "failed", or "sending"
    next_attempt_at: datetime
    attempts: int
    message: str
    retried: bool = False
    # "sending" until then, when the provider's log is searched for it: maybe it was sent.
    look_up_at: datetime | None = None
    # What the error says about more than this delivery: suppress the number, opt the
    # person out, or stop the whole alert.
    consequence: ErrorKind | None = None


def decide_failure(
    error: GatewayError,
    attempts: int,
    created_at: datetime,
    dispatch: DispatchSettings,
    now: datetime,
    rand: Callable[[], float] = random.random,
    reconciles: bool = False,
) -> FailureDecision:
    """Retry, give back, fail or look up a delivery whose send failed after `attempts`."""
    message = str(error)[:_ERROR_TEXT]
    if reconciles and (error.code or "") in MAYBE_SENT:
        # The provider may hold it: look in its log before sending anything again.
        return FailureDecision("sending", now, attempts, message, look_up_at=now + LOOK_UP_AFTER)
    if is_systemic(error):
        # Not this recipient's fault: back in the queue untouched.
        return FailureDecision("queued", now, max(0, attempts - 1), message)
    if error.kind is ErrorKind.RETRYABLE:
        delay = retry_delay(
            attempts,
            dispatch.backoff_base_seconds,
            dispatch.backoff_max_seconds,
            error.retry_after,
            rand,
        )
        retry_at = now + timedelta(seconds=delay)
        deadline = created_at + timedelta(seconds=dispatch.max_age_seconds)
        if attempts < dispatch.max_attempts and retry_at <= deadline:
            return FailureDecision("queued", retry_at, attempts, message, retried=True)
        gave_up = f"gave up after {attempts} attempts: {error}"[:_ERROR_TEXT]
        return FailureDecision("failed", now, attempts, gave_up)
    acted_on = (ErrorKind.RECIPIENT_INVALID, ErrorKind.OPTED_OUT, ErrorKind.CONTENT)
    consequence = error.kind if error.kind in acted_on else None
    return FailureDecision("failed", now, attempts, message, consequence=consequence)


def _record_failures(
    session: Session,
    outcomes: list[SendOutcome],
    owner: str,
    settings: Settings,
    now: datetime,
    tally: Tally,
    reconciles: bool,
) -> None:
    ids = [o.job.delivery_id for o in outcomes]
    rows = {
        row[0]: row
        for row in session.execute(
            select(col(Delivery.id), col(Delivery.attempts), col(Delivery.created_at), Subscriber)
            .join(Subscriber, col(Subscriber.id) == Delivery.subscriber_id, isouter=True)
            .where(col(Delivery.id).in_(ids))
        ).all()
    }
    changes = []
    for outcome in outcomes:
        error = outcome.error
        row = rows.get(outcome.job.delivery_id)
        if error is None or row is None:
            continue
        _, attempts, created_at, subscriber = row
        decision = decide_failure(
            error, attempts, created_at, settings.dispatch, now, reconciles=reconciles
        )
        _act_on(session, decision.consequence, outcome.job, subscriber, error, now)
        tally.retried += decision.retried
        tally.failed += decision.state == "failed"
        changes.append(
            {
                "b_id": outcome.job.delivery_id,
                "b_state": decision.state,
                "b_next": decision.next_attempt_at,
                "b_code": (error.code or "")[:16] or None,
                "b_message": decision.message,
                "b_finished": now if decision.state == "failed" else None,
                "b_uncertain": (error.code or "") in MAYBE_SENT and not reconciles,
                "b_attempts": decision.attempts,
                "b_owner": owner,
                "b_lease": decision.look_up_at,
            }
        )
    if changes:
        session.execute(_RECORD_FAILURE, changes)


def _act_on(
    session: Session,
    consequence: ErrorKind | None,
    job: Job,
    subscriber: Subscriber | None,
    error: GatewayError,
    now: datetime,
) -> None:
    """What a failure says beyond its delivery: a number suppressed, a person opted out, or
    the whole alert stopped."""
    if consequence is ErrorKind.RECIPIENT_INVALID and subscriber is not None:
        store.suppress(session, subscriber.phone, "invalid", now, error.code)
    elif consequence is ErrorKind.OPTED_OUT and subscriber is not None:
        opt_out(session, subscriber, error.code, now)
    elif consequence is ErrorKind.CONTENT:
        _fail_alert(session, job.alert_id, error, now)


# Only a delivery this worker still holds (its lease) takes the failure's outcome.
_RECORD_FAILURE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.state == "sending")
    .where(_TABLE.c.lease_owner == bindparam("b_owner"))
    .values(
        state=bindparam("b_state"),
        next_attempt_at=bindparam("b_next"),
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        finished_at=bindparam("b_finished"),
        uncertain=or_(_TABLE.c.uncertain, bindparam("b_uncertain", type_=Boolean)),
        attempts=bindparam("b_attempts"),
        lease_owner=None,
        lease_until=bindparam("b_lease"),
    )
)


def _fail_alert(session: Session, alert_id: int, error: GatewayError, now: datetime) -> None:
    """The provider refuses the text itself: stop the whole alert, explain why."""
    reason = f"the provider refused the text (code {error.code}): fix it and send again"
    session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.state).in_(("queued", "sending")))
        .values(state="failed", error=reason, finished_at=now)
    )
    session.execute(
        update(_TABLE)
        .where(_TABLE.c.alert_id == alert_id, _TABLE.c.state == "queued")
        .values(
            state="failed",
            error_code=error.code,
            error_message=f"not sent: {reason}"[:_ERROR_TEXT],
            finished_at=now,
            lease_owner=None,
            lease_until=None,
        )
    )


_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.state == "sending")
    .where(_TABLE.c.lease_owner == bindparam("b_owner"))
    .values(
        state="sent",
        provider_id=bindparam("b_provider_id"),
        segments=bindparam("b_segments"),
        sent_at=bindparam("b_now"),
        error_code=None,
        error_message=None,
        lease_owner=None,
        lease_until=None,
    )
)
_GIVE_BACK = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("b_ids", expanding=True)), _TABLE.c.state == "sending")
    .where(_TABLE.c.lease_owner == bindparam("b_owner"))
    .values(state="queued", attempts=_TABLE.c.attempts - 1, lease_owner=None, lease_until=None)
)
