"""After a crash or a lost answer: look in the provider's log before sending anything again.

A delivery found `sending` with an expired lease was claimed by a worker that never heard
back: the message may or may not have reached the provider. With a gateway whose provider
keeps a log (Twilio), the reconciler searches it for that text to that number, created since
the delivery was claimed. Found: the delivery is sent, with the provider's id, and nothing
goes out again. Absent: it goes back to the queue. A look-up that fails is tried again with
the dispatch backoff (twice the first retry's delay, doubling: 4, 8, 16, 32 s by default);
after `dispatch.reconcile_attempts` failures the delivery is marked `unknown`.

Only the uncertain deliveries are looked up (a worker holds at most its in-flight window of
them), a bounded number at a time and concurrently, never the whole alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlmodel import Session, col

from alerts.core.phones import mask_phone
from alerts.gateways.gateway import ErrorKind, GatewayError, MessageLog, SendReceipt
from alerts.outbox.outbox import retrying
from alerts.outbox.send_outcomes import is_systemic, retry_delay
from alerts.storage.models import Alert, Delivery, Subscriber, table_of
from alerts.wiring import Services

log = logging.getLogger(__name__)
_TABLE = table_of(Delivery)

CLOCK_SKEW = timedelta(seconds=5)  # between our clock and the provider's creation times
CONCURRENT_LOOKUPS = 20  # look-ups in flight at once, per worker
_ERROR_TEXT = 200


@dataclass(frozen=True)
class Uncertain:
    """A delivery that may have reached the provider: what to look for in its log."""

    delivery_id: int
    phone: str | None  # None: the subscriber was deleted since
    body: str
    since: datetime
    exclude: frozenset[str]  # provider ids of this subscriber's other deliveries
    checks: int


@dataclass(frozen=True)
class Verdict:
    """What the log said about one uncertain delivery."""

    delivery_id: int
    found: SendReceipt | None = None
    error: GatewayError | None = None


@dataclass
class ReconcileTally:
    """What one or more sweeps did."""

    looked_up: int = 0  # deliveries looked up in the log
    found: int = 0  # already sent: recorded, not sent again
    requeued: int = 0  # not in the log: back to the queue
    failed: int = 0  # not in the log, and no attempt left
    postponed: int = 0  # the look-up failed: tried again later
    unknown: int = 0  # the look-ups kept failing: marked unknown
    reasons: list[str] = field(default_factory=list)

    def add(self, other: ReconcileTally) -> None:
        self.looked_up += other.looked_up
        self.found += other.found
        self.requeued += other.requeued
        self.failed += other.failed
        self.postponed += other.postponed
        self.unknown += other.unknown
        self.reasons = (self.reasons + other.reasons)[-5:]


class UncertainDeliveries:
    """The storage side of reconciliation; each method is one short transaction."""

    def __init__(self, services: Services, owner: str) -> None:
        self.services = services
        self.owner = owner
        self._settings = services.settings.dispatch

    def take(self, limit: int) -> list[Uncertain]:
        """Lease up to `limit` deliveries whose lease expired while `sending`."""
        with self.services.session() as session:
            now = self.services.clock()
            lease = now + timedelta(seconds=self._settings.lease_seconds)
            params = {"b_now": now, "b_limit": limit, "b_owner": self.owner, "b_lease": lease}
            rows = session.connection().execute(_TAKE, params).all()
            if not rows:
                return []
            alerts = {row.alert_id for row in rows}
            bodies = {
                alert.id: {"fr": alert.body_fr, "en": alert.body_en}
                for alert in session.execute(select(Alert).where(col(Alert.id).in_(alerts)))
                .scalars()
            }  # fmt: skip
            since = {row.id: (row.claimed_at or row.created_at) - CLOCK_SKEW for row in rows}
            known = _known_ids(session, rows, min(since.values()))
            return [
                Uncertain(
                    delivery_id=row.id,
                    phone=row.phone,
                    body=bodies[row.alert_id].get(row.lang) or bodies[row.alert_id]["fr"],
                    since=since[row.id],
                    # Its own earlier message (before a redelivery) is not this attempt's.
                    exclude=frozenset(known.get(row.subscriber_id, ()))
                    | ({row.provider_id} if row.provider_id else set()),
                    checks=row.checks,
                )
                for row in rows
            ]

    def settle(self, verdicts: list[Verdict]) -> ReconcileTally:
        """Record what the log said: sent, back to the queue, later, or unknown."""
        tally = ReconcileTally(looked_up=len(verdicts))
        with self.services.session() as session:
            now = self.services.clock()
            connection = session.connection()
            rows = {
                row.id: row
                for row in connection.execute(
                    select(_TABLE.c.id, _TABLE.c.checks, _TABLE.c.attempts).where(
                        _TABLE.c.id.in_([v.delivery_id for v in verdicts])
                    )
                )
            }
            for verdict in verdicts:
                row = rows.get(verdict.delivery_id)
                if row is None:
                    continue  # deleted with its alert meanwhile
                params = {"b_id": verdict.delivery_id, "b_owner": self.owner, "b_now": now}
                if verdict.found is not None:
                    connection.execute(
                        _FOUND,
                        {
                            **params,
                            "b_provider_id": verdict.found.provider_id[:64],
                            "b_segments": verdict.found.segments,
                        },
                    )
                    tally.found += 1
                elif verdict.error is None and row.attempts >= self._settings.max_attempts:
                    # Not sent, and every attempt used (timeouts each time): give up.
                    reason = f"gave up after {row.attempts} attempts: no answer from the provider"
                    connection.execute(_GIVE_UP, {**params, "b_reason": reason})
                    tally.failed += 1
                elif verdict.error is None:
                    connection.execute(_REQUEUE, params)
                    tally.requeued += 1
                else:
                    # An account problem (bad credentials) is not this delivery's: look it up
                    # again later without counting the failure against it.
                    failures = row.checks + (0 if is_systemic(verdict.error) else 1)
                    reason = f"cannot look it up in the provider's log: {verdict.error}"
                    reason = reason[:_ERROR_TEXT]
                    tally.reasons.append(reason)
                    if failures >= self._settings.reconcile_attempts:
                        connection.execute(_UNKNOWN, {**params, "b_reason": reason})
                        tally.unknown += 1
                    else:
                        delay = retry_delay(
                            failures + 1,
                            self._settings.backoff_base_seconds,
                            self._settings.backoff_max_seconds,
                        )
                        later = now + timedelta(seconds=delay)
                        connection.execute(
                            _POSTPONE,
                            {**params, "b_reason": reason, "b_later": later, "b_checks": failures},
                        )
                        tally.postponed += 1
        return tally


class Reconciler:
    """Looks the uncertain deliveries up in the provider's log, a bounded batch per sweep."""

    def __init__(
        self, services: Services, owner: str, provider_log: MessageLog, batch: int
    ) -> None:
        self.deliveries = UncertainDeliveries(services, owner)
        self.provider_log = provider_log
        self.batch = batch
        self.tally = ReconcileTally()

    async def sweep(self) -> ReconcileTally:
        """One batch: take, look up concurrently, settle; what it did."""
        taken = await asyncio.to_thread(retrying, lambda: self.deliveries.take(self.batch))
        if not taken:
            return ReconcileTally()
        gate = asyncio.Semaphore(CONCURRENT_LOOKUPS)
        verdicts = await asyncio.gather(*(self._look_up(item, gate) for item in taken))
        done = await asyncio.to_thread(retrying, lambda: self.deliveries.settle(list(verdicts)))
        log.info(
            "reconciled %d uncertain deliveries: %d found sent, %d requeued, %d later, %d unknown",
            done.looked_up,
            done.found,
            done.requeued,
            done.postponed,
            done.unknown,
        )
        self.tally.add(done)
        return done

    async def _look_up(self, item: Uncertain, gate: asyncio.Semaphore) -> Verdict:
        if item.phone is None:
            return Verdict(item.delivery_id)  # nobody to look for: the claim skips it
        async with gate:
            try:
                found = await self.provider_log.find_sent(
                    item.phone, item.body, item.since, item.exclude
                )
            except GatewayError as exc:
                log.info("log look-up for %s failed: %s", mask_phone(item.phone), exc.code)
                return Verdict(item.delivery_id, error=exc)
            except Exception as exc:  # a gateway bug: count it as a failed look-up
                log.exception("log look-up for delivery %s failed", item.delivery_id)
                error = GatewayError(
                    f"look-up error: {type(exc).__name__}", kind=ErrorKind.OTHER, code="internal"
                )
                return Verdict(item.delivery_id, error=error)
        return Verdict(item.delivery_id, found=found)


def _known_ids(session: Session, rows: Sequence[Row[Any]], since: datetime) -> dict[int, list[str]]:
    """The provider ids of these subscribers' deliveries sent since `since`: not theirs."""
    subscribers = {row.subscriber_id for row in rows if row.subscriber_id is not None}
    if not subscribers:
        return {}
    known: dict[int, list[str]] = {}
    for subscriber_id, provider_id in session.execute(
        select(_TABLE.c.subscriber_id, _TABLE.c.provider_id).where(
            _TABLE.c.subscriber_id.in_(subscribers),
            _TABLE.c.provider_id.is_not(None),
            _TABLE.c.sent_at >= since,
        )
    ).all():
        known.setdefault(subscriber_id, []).append(provider_id)
    return known


_PHONE = select(col(Subscriber.phone)).where(col(Subscriber.id) == _TABLE.c.subscriber_id)
# Expired leases of `sending` rows, oldest first; PostgreSQL workers skip each other's.
_TAKE = (
    update(_TABLE)
    .where(
        _TABLE.c.id.in_(
            select(_TABLE.c.id)
            .where(_TABLE.c.state == "sending", _TABLE.c.lease_until < bindparam("b_now"))
            .order_by(_TABLE.c.lease_until, _TABLE.c.id)
            .limit(bindparam("b_limit"))
            .with_for_update(skip_locked=True)
        )
    )
    .values(lease_owner=bindparam("b_owner"), lease_until=bindparam("b_lease"))
    .returning(
        _TABLE.c.id,
        _TABLE.c.alert_id,
        _TABLE.c.subscriber_id,
        _TABLE.c.lang,
        _TABLE.c.claimed_at,
        _TABLE.c.created_at,
        _TABLE.c.checks,
        _TABLE.c.provider_id,
        _PHONE.scalar_subquery().label("phone"),
    )
)
_HELD = (_TABLE.c.id == bindparam("b_id"), _TABLE.c.state == "sending")
_OURS = _TABLE.c.lease_owner == bindparam("b_owner")
_FOUND = (
    update(_TABLE)
    .where(*_HELD, _OURS)
    .values(
        state="sent",
        provider_id=bindparam("b_provider_id"),
        segments=bindparam("b_segments"),
        sent_at=bindparam("b_now"),
        error_code=None,
        error_message="found in the provider's log after the worker lost the answer",
        lease_owner=None,
        lease_until=None,
    )
)
_REQUEUE = (
    update(_TABLE)
    .where(*_HELD, _OURS)
    .values(
        state="queued",
        next_attempt_at=bindparam("b_now"),
        error_message="not in the provider's log: sent again",
        lease_owner=None,
        lease_until=None,
    )
)
_POSTPONE = (
    update(_TABLE)
    .where(*_HELD, _OURS)
    .values(
        checks=bindparam("b_checks"),
        error_message=bindparam("b_reason"),
        lease_owner=None,
        lease_until=bindparam("b_later"),  # looked up again once this "lease" expires
    )
)
_GIVE_UP = (
    update(_TABLE)
    .where(*_HELD, _OURS)
    .values(
        state="failed",
        error_message=bindparam("b_reason"),
        finished_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
    )
)
_UNKNOWN = (
    update(_TABLE)
    .where(*_HELD, _OURS)
    .values(
        state="unknown",
        checks=_TABLE.c.checks + 1,
        uncertain=True,
        error_message=bindparam("b_reason"),
        finished_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
    )
)
