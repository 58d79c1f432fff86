"""The outbox's storage side: claim, record, renew, recover and finish deliveries.

A delivery moves queued -> sending -> sent (-> delivered | undelivered by callback), or to
failed, skipped, cancelled or unknown. A worker claims a row only when one of its slots is
free to send it, and marks it `sending` in the same statement; the slot records the outcome
together with its next claim. So at any moment a worker has at most one `sending` row per
slot, and only those can have reached the provider without our knowing: after a crash,
exactly the rows found `sending` with an expired lease are uncertain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from alerts.gateways.gateway import message_log
from alerts.outbox.send_outcomes import Job, SendOutcome, Tally, record_outcomes
from alerts.storage.models import (
    ACTIVE,
    Alert,
    Delivery,
    Subscriber,
    Subscription,
    Suppression,
    table_of,
)
from alerts.wiring import Services

_TABLE = table_of(Delivery)
T = TypeVar("T")


def retrying(operation: Callable[[], T]) -> T:
    """Run a short transaction again after a lock timeout, deadlock or dropped connection."""
    for attempt in range(5):
        try:
            return operation()
        except DBAPIError:
            if attempt == 4:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


class Outbox:
    """The delivery rows as one worker sees them; every method is one short transaction."""

    def __init__(self, services: Services, owner: str, alert_id: int | None = None) -> None:
        self.services = services
        self.owner = owner
        self.alert_id = alert_id
        self._settings = services.settings.dispatch
        self._bodies: dict[int, tuple[dict[str, str], dict[str, int]]] = {}
        self._claim = _claim_statement(alert_id)
        # A provider log is searched before a delivery whose answer was lost goes out again.
        self.reconciles = message_log(services.gateway) is not None

    def _scope(self) -> list[Any]:
        return [] if self.alert_id is None else [Delivery.alert_id == self.alert_id]

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._settings.lease_seconds)

    def commit(
        self, outcomes: list[SendOutcome], want: int = 0, renewals: Iterable[int] = ()
    ) -> tuple[list[Job], Tally]:
        """Record outcomes, claim up to `want` jobs and renew leases, in one transaction."""
        tally = Tally()
        jobs: list[Job] = []
        with self.services.session() as session:
            now = self.services.clock()
            if outcomes:
                record_outcomes(
                    session,
                    outcomes,
                    owner=self.owner,
                    settings=self.services.settings,
                    now=now,
                    tally=tally,
                    reconciles=self.reconciles,
                )
            if want:
                jobs = self._claim_jobs(session, want, now, tally)
            renew = sorted(set(renewals))
            if renew:
                params = {"b_ids": renew, "b_owner": self.owner, "b_lease": self._lease(now)}
                session.connection().execute(_RENEW, params)
        return jobs, tally

    def _claim_jobs(self, session: Session, want: int, now: datetime, tally: Tally) -> list[Job]:
        """Mark the most urgent due rows sending; skip those whose subscriber changed mind."""
        connection = session.connection()
        params = {
            "b_now": now,
            "b_limit": want,
            "b_owner": self.owner,
            "b_lease": self._lease(now),
            "b_alert": self.alert_id,
        }
        claimed = connection.execute(self._claim, params).all()
        tally.claimed += len(claimed)
        if not claimed:
            return []
        refused = set(
            connection.execute(
                _UNWANTED, {"b_ids": [row.id for row in claimed], "b_now": now}
            ).scalars()
        )
        if refused:
            self._explain_skips(session, sorted(refused))
            tally.skipped += len(refused)
        fresh = {row.alert_id for row in claimed} - self._bodies.keys()
        if fresh:
            self._load_bodies(session, fresh)
            session.execute(
                update(Alert).where(col(Alert.id).in_(fresh), col(Alert.state) == "queued")
                .values(state="sending")
            )  # fmt: skip
        jobs = []
        for row in claimed:
            # No phone: the subscriber was deleted between the two statements (PostgreSQL);
            # the row's lease runs out and the next claim skips it.
            if row.id in refused or row.phone is None:
                continue
            bodies, segments = self._bodies[row.alert_id]
            lang = row.lang if row.lang in bodies else "fr"
            cost = float(segments[lang]) if self._settings.rate_unit == "segments" else 1.0
            jobs.append(Job(row.id, row.alert_id, row.phone, bodies[lang], max(cost, 1.0)))
        return jobs

    def _load_bodies(self, session: Session, alert_ids: set[int]) -> None:
        for alert in session.execute(select(Alert).where(col(Alert.id).in_(alert_ids))).scalars():
            assert alert.id is not None
            self._bodies[alert.id] = (
                {"fr": alert.body_fr, "en": alert.body_en},
                {"fr": alert.segments_fr, "en": alert.segments_en},
            )

    def _explain_skips(self, session: Session, ids: list[int]) -> None:
        """Say why each skipped row was skipped (rare: the operator reads it in reports)."""
        rows = session.execute(
            select(
                col(Delivery.id),
                col(Delivery.zone_id),
                col(Subscriber.status),
                col(Subscriber.topic_snow),
                col(Subscriber.topic_radar),
                col(Suppression.id),
                col(Alert.kind),
                col(Subscription.id),
            )
            .select_from(Delivery)
            .join(Alert, col(Alert.id) == Delivery.alert_id)
            .join(Subscriber, col(Subscriber.id) == Delivery.subscriber_id, isouter=True)
            .join(Suppression, col(Suppression.phone) == Subscriber.phone, isouter=True)
            .join(
                Subscription,
                and_(
                    col(Subscription.subscriber_id) == Delivery.subscriber_id,
                    col(Subscription.zone_id) == Delivery.zone_id,
                    col(Subscription.status) == ACTIVE,
                ),
                isouter=True,
            )
            .where(col(Delivery.id).in_(ids))
        ).all()
        reasons = [
            {
                "b_id": row[0],
                "b_reason": _skip_reason(row[2], row[3], row[4], row[5], row[6], row[1], row[7])
                or "not wanted",
            }
            for row in rows
        ]
        session.connection().execute(
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("b_id"))
            .values(error_message=bindparam("b_reason")),
            reasons,
        )

    def recover_expired(self) -> int:
        """Rows left `sending` by a worker that died: resend, or mark unknown; how many.

        For gateways whose provider keeps no log (console, file): the others reconcile.
        """
        resend = self._settings.on_expired_lease == "resend"
        with self.services.session() as session:
            now = self.services.clock()
            recovered = session.execute(
                update(_TABLE)
                .where(_TABLE.c.state == "sending", _TABLE.c.lease_until < now)
                .values(
                    state="queued" if resend else "unknown",
                    uncertain=true(),
                    next_attempt_at=now,
                    finished_at=None if resend else now,
                    error_message="the worker sending this stopped before hearing back",
                    lease_owner=None,
                    lease_until=None,
                )
                .returning(_TABLE.c.id)
            ).all()
        return len(recovered)

    def finish_alerts(self) -> None:
        """Mark done the alerts with nothing left queued or sending.

        First, rows of a cancelled or failed alert that came back to the queue after the
        alert stopped (a retry or a lease of a send in flight then) are settled like the rest.
        """
        with self.services.session() as session:
            for stopped in ("cancelled", "failed"):  # the row takes its alert's state
                # Driven from the (few) stopped alerts through ix_delivery_alert_state, not
                # from every queued row: this runs at each sweep of every worker.
                of_stopped = select(col(Alert.id)).where(col(Alert.state) == stopped)
                session.execute(
                    update(_TABLE)
                    .where(_TABLE.c.alert_id.in_(of_stopped), _TABLE.c.state == "queued")
                    .values(
                        state=stopped,
                        finished_at=self.services.clock(),
                        error_message=f"not sent: the alert was {stopped}",
                    )
                )
            active = exists().where(
                col(Delivery.alert_id) == Alert.id, col(Delivery.state).in_(("queued", "sending"))
            )
            session.execute(
                update(Alert)
                .where(col(Alert.state).in_(("queued", "sending")), ~active)
                .values(state="done", finished_at=self.services.clock())
                .execution_options(synchronize_session=False)
            )

    def backlog(self) -> tuple[int, datetime | None]:
        """Rows still to send in scope, and when the next one is due or its lease ends."""
        with self.services.session(read_only=True) as session:
            queued = session.execute(
                select(func.count(), func.min(col(Delivery.next_attempt_at))).where(
                    col(Delivery.state) == "queued", *self._scope()
                )
            ).one()
            sending = session.execute(
                select(func.count(), func.min(col(Delivery.lease_until))).where(
                    col(Delivery.state) == "sending", *self._scope()
                )
            ).one()
        moments = [moment for moment in (queued[1], sending[1]) if moment is not None]
        return queued[0] + sending[0], min(moments) if moments else None


def queue_depth(session: Session, now: datetime) -> dict[str, int]:
    """Queued deliveries: `due` now (sent as slots free), `later` (waiting for a retry time)."""
    when = case((col(Delivery.next_attempt_at) > now, "later"), else_="due")
    counts = dict(
        session.execute(
            select(when, func.count()).where(col(Delivery.state) == "queued").group_by(when)
        ).all()
    )
    return {"due": int(counts.get("due", 0)), "later": int(counts.get("later", 0))}


def _still_wanted() -> ColumnElement[bool]:
    """A delivery's subscriber is active, not suppressed, with the topic and zone still on."""
    subscriber = (
        select(col(Subscriber.id))
        .join(Alert, col(Alert.id) == _TABLE.c.alert_id)
        .where(
            col(Subscriber.id) == _TABLE.c.subscriber_id,
            col(Subscriber.status) == ACTIVE,
            or_(col(Alert.kind) != "snow", col(Subscriber.topic_snow) == true()),
            or_(col(Alert.kind) != "radar", col(Subscriber.topic_radar) == true()),
            ~exists().where(col(Suppression.phone) == Subscriber.phone),
        )
    )
    zone = select(col(Subscription.id)).where(
        col(Subscription.subscriber_id) == _TABLE.c.subscriber_id,
        col(Subscription.zone_id) == _TABLE.c.zone_id,
        col(Subscription.status) == ACTIVE,
    )
    return and_(subscriber.exists(), or_(_TABLE.c.zone_id.is_(None), zone.exists()))


def _alert_in(*states: str) -> ColumnElement[bool]:
    """The delivery's alert is in one of these states (checked row by row: for the claim)."""
    return exists().where(col(Alert.id) == _TABLE.c.alert_id, col(Alert.state).in_(states))


def _claim_statement(alert_id: int | None) -> Update:
    """Claim the most urgent due rows and mark them sending, in one statement.

    PostgreSQL workers skip each other's locked rows; on SQLite the claim runs inside the
    single writer's transaction.
    """
    due = select(_TABLE.c.id).where(
        _TABLE.c.state == "queued",
        _TABLE.c.next_attempt_at <= bindparam("b_now"),
        ~_alert_in("cancelled", "failed"),  # a retry requeued after the alert stopped
    )
    if alert_id is None:
        due = due.order_by(_TABLE.c.priority, _TABLE.c.next_attempt_at, _TABLE.c.id)
    else:  # one alert has one priority: follow ix_delivery_alert_state
        due = due.where(_TABLE.c.alert_id == bindparam("b_alert"))
        due = due.order_by(_TABLE.c.next_attempt_at, _TABLE.c.id)
    due = due.limit(bindparam("b_limit")).with_for_update(skip_locked=True)
    phone = select(col(Subscriber.phone)).where(col(Subscriber.id) == _TABLE.c.subscriber_id)
    return (
        update(_TABLE)
        .where(_TABLE.c.id.in_(due))
        .values(
            state="sending",
            attempts=_TABLE.c.attempts + 1,
            lease_owner=bindparam("b_owner"),
            lease_until=bindparam("b_lease"),
            claimed_at=bindparam("b_now"),
            checks=0,
        )
        .returning(
            _TABLE.c.id,
            _TABLE.c.alert_id,
            _TABLE.c.lang,
            phone.scalar_subquery().label("phone"),
        )
    )


def _skip_reason(
    status: str | None,
    snow: bool | None,
    radar: bool | None,
    suppressed: int | None,
    kind: str,
    zone_id: int | None,
    subscribed: int | None,
) -> str | None:
    """Why a queued message must not go out any more, or None."""
    if status is None:
        return "subscriber deleted before sending"
    if status != ACTIVE:
        return f"subscriber {status.replace('_', ' ')} before sending"
    if suppressed is not None:
        return "number suppressed before sending"
    if (kind == "snow" and not snow) or (kind == "radar" and not radar):
        return f"{kind} alerts turned off before sending"
    if zone_id is not None and subscribed is None:
        return "unsubscribed from the zone before sending"
    return None


# The journal's statements, built once: a dispatcher runs them hundreds of times a second.
# Just-claimed rows whose subscriber no longer wants the alert: skipped, not sent.
_UNWANTED = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("b_ids", expanding=True)), ~_still_wanted())
    .values(
        state="skipped",
        attempts=_TABLE.c.attempts - 1,
        finished_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
    )
    .returning(_TABLE.c.id)
)
_RENEW = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("b_ids", expanding=True)), _TABLE.c.state == "sending")
    .where(_TABLE.c.lease_owner == bindparam("b_owner"))
    .values(lease_until=bindparam("b_lease"))
)
