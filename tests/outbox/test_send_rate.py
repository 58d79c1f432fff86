"""The token bucket, alone and shared by two processes through the database (fake clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.outbox.send_outcomes import retry_delay
from alerts.outbox.send_rate import SharedTokenBucket, TokenBucket
from alerts.wiring import Services


class FakeClock:
    """Monotonic seconds and UTC datetimes that move only when told."""

    def __init__(self) -> None:
        self.seconds = 100.0
        self.start = datetime(2026, 12, 3, 12, tzinfo=UTC)

    def __call__(self) -> float:
        return self.seconds

    def utc(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds - 100.0)


def test_a_bucket_spaces_takes_at_the_rate_after_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=5, burst=1, clock=clock)
    assert [round(bucket.take(1), 3) for _ in range(4)] == [0.0, 0.2, 0.4, 0.6]
    clock.seconds += 10
    assert bucket.take(1) == 0.0  # refilled, but never beyond the burst
    assert bucket.take(1) == pytest.approx(0.2)


def test_a_message_dearer_than_the_burst_still_goes_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.take(2) == pytest.approx(1.0)  # a 2-segment message on a 1 segment/s number
    assert bucket.take(2) == pytest.approx(3.0)


def test_a_penalty_pauses_everyone() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=100, clock=clock)
    bucket.penalize(2.0)
    assert bucket.take(1) >= 2.0


def test_two_processes_share_one_rate_through_the_database(services: Services) -> None:
    clock = FakeClock()
    services.clock = clock.utc
    rate = 10.0
    first = SharedTokenBucket(services, "sender", rate, clock=clock)
    second = SharedTokenBucket(services, "sender", rate, clock=clock)
    sends = []
    for _ in range(40):
        for bucket in (first, second):
            sends.append(clock.seconds + bucket.take(1))
        clock.seconds += 0.01
    sends.sort()
    allowance = rate + first.burst + 2 * max(1.0, rate * 0.1)
    for i, start in enumerate(sends):
        assert sum(1 for t in sends[i:] if t < start + 1.0) <= allowance
    assert sends[-1] - sends[0] >= (80 - allowance) / rate  # alone each would finish at once


def test_a_penalty_reaches_the_other_process(services: Services) -> None:
    clock = FakeClock()
    services.clock = clock.utc
    first = SharedTokenBucket(services, "sender", 50, clock=clock)
    second = SharedTokenBucket(services, "sender", 50, clock=clock)
    first.penalize(3.0)
    assert second.take(1) >= 2.9


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    assert retry_delay(1, 2.0, 600, rand=lambda: 0.0) == 1.0
    assert retry_delay(1, 2.0, 600, rand=lambda: 1.0) == 2.0
    assert retry_delay(5, 2.0, 600, rand=lambda: 1.0) == 32.0
    assert retry_delay(20, 2.0, 600, rand=lambda: 1.0) == 600.0
    assert retry_delay(1, 2.0, 600, retry_after=30, rand=lambda: 0.5) == 30.0
