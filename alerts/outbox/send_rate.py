"""The sending rate: a token bucket per sender, shared by every worker through the database.

A sending number has one rate (a long code 1 segment/s, a short code ~100). Several worker
processes on one PostgreSQL database must share it rather than each take all of it, so the
bucket's state lives in a `rate_bucket` row. Each process draws small grants of tokens
(a tenth of a second's worth) under a row lock and hands them to its threads locally, so
the database sees a few short transactions per second whatever the rate. Tokens may go into
debt: a caller learns how long to wait instead of spinning, and a 2-segment message on a
1-segment/s number still goes out, two seconds after the previous one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, col

from alerts.storage.models import RateBucket
from alerts.wiring import Services

# Burst allowed after an idle spell, and the size of one grant, in seconds of the rate.
BURST_SECONDS = 0.25
GRANT_SECONDS = 0.1


class TokenBucket:
    """An in-process token bucket with debt; thread-safe; `take` says how long to wait."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate * BURST_SECONDS)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, cost: float) -> float:
        """Spend `cost` tokens; returns the seconds to wait before using them."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= cost
            return max(0.0, -self._tokens / self.rate)

    def refund(self, amount: float) -> None:
        """Give back tokens taken for a send that did not happen."""
        with self._lock:
            self._tokens = min(self.burst, self._tokens + amount)

    def penalize(self, seconds: float) -> None:
        """Send nothing for `seconds` (the provider said Retry-After)."""
        with self._lock:
            self._tokens = min(self._tokens, -seconds * self.rate)


class SharedTokenBucket:
    """A token bucket whose state is a database row, drawn from in small grants."""

    def __init__(
        self,
        services: Services,
        key: str,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self.key = key[:64]
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate * BURST_SECONDS)
        self._grant = max(1.0, rate * GRANT_SECONDS)
        self._clock = clock
        self._local = 0.0  # tokens granted to this process and not yet spent
        self._ready_at = clock()  # when the granted tokens may be used
        self._lock = threading.Lock()

    def take(self, cost: float) -> float:
        """Spend `cost` tokens of the shared rate; returns the seconds to wait."""
        with self._lock:
            now = self._clock()
            if self._local < cost:
                amount = max(cost - self._local, self._grant)
                wait = self._draw(amount, hold_seconds=0.0)
                self._local += amount
                self._ready_at = max(self._ready_at, now + wait)
            self._local -= cost
            return max(0.0, self._ready_at - now)

    def refund(self, amount: float) -> None:
        """Give back tokens taken for a send that did not happen (kept for this process, up
        to one grant: idle slots handing back their tokens must not bank a burst)."""
        with self._lock:
            self._local = min(self._local + amount, max(self._local, self._grant))

    def penalize(self, seconds: float) -> None:
        """Make every process wait `seconds` (the provider throttled the shared sender)."""
        with self._lock:
            self._ready_at = max(self._ready_at, self._clock() + seconds)
            self._draw(0.0, hold_seconds=seconds)

    def _draw(self, amount: float, *, hold_seconds: float) -> float:
        """Take `amount` from the row (refilled for the time elapsed); the wait it implies."""
        for attempt in range(5):
            try:
                return self._draw_once(amount, hold_seconds)
            except DBAPIError:  # a busy SQLite file or a deadlock victim: try again
                if attempt == 4:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _draw_once(self, amount: float, hold_seconds: float) -> float:
        with self._services.session() as session:
            row = self._locked_row(session)
            now = self._services.clock()
            elapsed = max(0.0, (now - row.updated_at).total_seconds())
            tokens = min(self.burst, row.tokens + elapsed * self.rate) - amount
            tokens = min(tokens, -hold_seconds * self.rate) if hold_seconds else tokens
            row.tokens, row.updated_at = tokens, now
            session.add(row)
            return max(0.0, -tokens / self.rate)

    def _locked_row(self, session: Session) -> RateBucket:
        query = select(RateBucket).where(col(RateBucket.key) == self.key).with_for_update()
        row = session.execute(query).scalar_one_or_none()
        if row is not None:
            return row
        try:
            # Two processes may create the row at once; the loser reads the winner's.
            with session.begin_nested():
                session.execute(
                    insert(RateBucket).values(
                        key=self.key, tokens=self.burst, updated_at=self._services.clock()
                    )
                )
        except IntegrityError:
            pass
        return session.execute(query).scalar_one()


def sender_key(services: Services) -> str:
    """The name of the sender whose rate is shared: its number, service SID or gateway."""
    twilio = services.settings.twilio
    if services.settings.gateway.kind == "twilio":
        return f"twilio:{twilio.from_number or twilio.messaging_service_sid}"
    return services.settings.gateway.kind


def shared_bucket(services: Services) -> SharedTokenBucket:
    """The configured rate of this service's sender, shared through its database."""
    return SharedTokenBucket(
        services, sender_key(services), services.settings.dispatch.rate_per_second
    )
