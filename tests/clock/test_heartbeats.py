"""Heartbeats on SQLite and PostgreSQL: workers alive within 30 s, a scheduler seen within two
minutes, clean stops, pruning, and the warning when notices wait and no scheduler runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.clock.heartbeats import (
    SCHEDULER,
    WORKER,
    Pulse,
    beat,
    process_name,
    scheduler_gap,
    scheduler_seen,
    stopped,
    workers_alive,
)
from alerts.config import Settings
from alerts.storage.models import Heartbeat, Notice
from alerts.wiring import Services, build
from tests.support.public import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wired(settings: Settings, clock: Clock) -> Iterator[Services]:
    services = build(settings, clock=clock)
    yield services
    services.close()


def _rows(services: Services) -> list[Heartbeat]:
    with services.session(read_only=True) as session:
        return list(session.execute(select(Heartbeat).order_by(Heartbeat.id)).scalars())


def test_a_worker_is_alive_for_thirty_seconds_after_its_last_beat(
    wired: Services, clock: Clock
) -> None:
    assert not workers_alive(wired)
    beat(wired, WORKER, "host:1:dispatch-1")
    beat(wired, WORKER, "host:1:dispatch-1")  # an update, not a second row
    assert [(row.role, row.process) for row in _rows(wired)] == [(WORKER, "host:1:dispatch-1")]
    clock.advance(seconds=29)
    assert workers_alive(wired)
    clock.advance(seconds=2)
    assert not workers_alive(wired)  # silent 31 s: taken for gone
    assert not scheduler_seen(wired)  # a worker is no scheduler


def test_a_worker_stopping_cleanly_is_gone_at_once(wired: Services) -> None:
    beat(wired, WORKER, "host:1:dispatch-1")
    beat(wired, WORKER, "host:1:dispatch-2")
    stopped(wired, WORKER, "host:1:dispatch-1")
    assert [row.process for row in _rows(wired)] == ["host:1:dispatch-2"]
    stopped(wired, WORKER, "host:1:dispatch-2")
    assert not workers_alive(wired) and _rows(wired) == []


def test_only_a_scheduler_holding_the_lock_counts_and_a_stopped_one_stays_on_record(
    wired: Services, clock: Clock
) -> None:
    beat(wired, SCHEDULER, "host:2:scheduler", leader=False)  # waiting for the lock
    assert not scheduler_seen(wired)
    beat(wired, SCHEDULER, "host:1:scheduler", leader=True)
    clock.advance(seconds=119)
    assert scheduler_seen(wired)
    clock.advance(seconds=2)
    assert not scheduler_seen(wired)
    beat(wired, SCHEDULER, "host:1:scheduler", leader=True)
    clock.advance(seconds=5)
    stopped(wired, SCHEDULER, "host:1:scheduler")
    assert not scheduler_seen(wired)  # at once, not two minutes later
    kept = {row.process: row for row in _rows(wired)}["host:1:scheduler"]
    assert not kept.leader and kept.seen_at == clock.now  # when it stopped


def test_rows_silent_for_a_week_are_pruned_at_the_next_beat(wired: Services, clock: Clock) -> None:
    beat(wired, SCHEDULER, "old:1:scheduler", leader=True)
    clock.advance(days=7, seconds=1)
    beat(wired, WORKER, "new:1:dispatch-1")
    assert [row.process for row in _rows(wired)] == ["new:1:dispatch-1"]


def test_a_pulse_writes_every_ten_seconds_at_most_and_at_once_on_a_change_of_leadership(
    wired: Services, clock: Clock
) -> None:
    pulse = Pulse(wired, SCHEDULER, "scheduler")
    assert pulse.process == process_name("scheduler") and pulse.process.endswith(":scheduler")
    pulse(leader=False)
    first = _rows(wired)[0].seen_at
    clock.advance(seconds=5)
    pulse(leader=False)  # within ten seconds (of the process's own clock): nothing written
    assert _rows(wired)[0].seen_at == first
    pulse(leader=True)  # it took the lock: written now
    row = _rows(wired)[0]
    assert row.leader and row.seen_at == clock.now
    pulse.stop()
    assert not _rows(wired)[0].leader


def _pending_notice(services: Services) -> None:
    with services.session() as session:
        session.add(Notice(kind="alert", due_at=services.clock() + timedelta(hours=2)))


def test_the_warning_needs_pending_work_and_no_scheduler_seen_for_two_minutes(
    wired: Services, clock: Clock
) -> None:
    assert scheduler_gap(wired) is None  # nothing waits: nothing to warn about
    _pending_notice(wired)
    gap = scheduler_gap(wired)
    assert gap is not None and gap.pending_notices == 1
    assert gap.message() == (
        "warning: no scheduler has run in the last 7 days: nothing scheduled will go out "
        "until `alerts serve` runs"
    )
    beat(wired, SCHEDULER, "host:1:scheduler", leader=True)
    assert scheduler_gap(wired) is None
    clock.advance(minutes=14)
    gap = scheduler_gap(wired)
    assert gap is not None
    assert gap.message().startswith("warning: no scheduler has run for 14 min: nothing")
