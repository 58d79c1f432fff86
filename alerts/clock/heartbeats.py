"""Heartbeats: which parts of `alerts serve` are alive, as the database last heard.

The scheduler role and each dispatch worker write a row (role, process, leader, seen_at) at
start and every `BEAT_SECONDS`. The CLI reads them: with a worker alive, `alerts send` queues
and returns; with pending notices and no scheduler seen lately, commands warn that nothing
scheduled will go out. A worker's row goes on a clean stop; a scheduler's stays, marked not
leading, so "no scheduler has run for 3 h" can still be said. Rows silent for a week go.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col

from alerts.core.composition import describe_duration
from alerts.errors import AlertsError
from alerts.storage.db import rowcount
from alerts.storage.models import Heartbeat, Notice, Recurrence

if TYPE_CHECKING:
    from alerts.wiring import Services

log = logging.getLogger(__name__)

SCHEDULER, WORKER = "scheduler", "worker"
BEAT_SECONDS = 10.0  # how often a live part writes its row
WORKER_FRESH = timedelta(seconds=30)  # a worker silent longer is taken for gone
SCHEDULER_FRESH = timedelta(seconds=120)  # a scheduler silent longer earns a warning
KEEP = timedelta(days=7)  # rows silent this long are pruned


def process_name(part: str) -> str:
    """Who beats: host, process id and part (`dispatch-1`, `scheduler`), as rows store it."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{part[:60]}"


def beat(services: Services, role: str, process: str, *, leader: bool = False) -> None:
    """Say that this part is alive now (insert or update its row); prune silent rows."""
    now = services.clock()
    values = {"leader": leader, "seen_at": now}
    mine = (col(Heartbeat.role) == role, col(Heartbeat.process) == process)
    for attempt in range(2):
        try:
            with services.session() as session:
                session.execute(delete(Heartbeat).where(col(Heartbeat.seen_at) < now - KEEP))
                updated = session.execute(update(Heartbeat).where(*mine).values(**values))
                if not rowcount(updated):
                    session.execute(
                        insert(Heartbeat).values(
                            role=role, process=process, started_at=now, **values
                        )
                    )
            return
        except IntegrityError:
            if attempt:  # only this part writes its row: a second clash is not a race
                raise


def stopped(services: Services, role: str, process: str) -> None:
    """A clean stop: a worker's row goes; a scheduler's stays as the last time one ran."""
    with services.session() as session:
        mine = (col(Heartbeat.role) == role, col(Heartbeat.process) == process)
        if role == SCHEDULER:
            stopped_at = services.clock()
            session.execute(update(Heartbeat).where(*mine).values(leader=False, seen_at=stopped_at))
        else:
            session.execute(delete(Heartbeat).where(*mine))


def workers_alive(services: Services, within: timedelta = WORKER_FRESH) -> bool:
    """Whether a dispatch worker of `alerts serve` wrote its heartbeat lately."""
    return _latest(services, WORKER, within) is not None


def scheduler_seen(services: Services, within: timedelta = SCHEDULER_FRESH) -> bool:
    """Whether a process running the scheduler (holding its lock) wrote lately."""
    return _latest(services, SCHEDULER, within, leader_only=True) is not None


def _latest(
    services: Services, role: str, within: timedelta | None = None, *, leader_only: bool = False
) -> datetime | None:
    query = select(func.max(col(Heartbeat.seen_at))).where(col(Heartbeat.role) == role)
    if leader_only:
        query = query.where(col(Heartbeat.leader))
    if within is not None:
        query = query.where(col(Heartbeat.seen_at) >= services.clock() - within)
    with services.session(read_only=True) as session:
        return session.execute(query).scalar_one_or_none()


@dataclass(frozen=True)
class SchedulerGap:
    """Work waiting for the clock while no scheduler runs."""

    pending_notices: int
    active_recurrences: int
    last_seen: datetime | None  # when a scheduler last wrote (or stopped), if one did lately
    now: datetime

    def message(self) -> str:
        """The operator's warning, one line."""
        if self.last_seen is None:
            since = f"in the last {KEEP.days} days"
        else:
            silent = max((self.now - self.last_seen).total_seconds(), 0.0)
            since = f"for {describe_duration(silent)}"
        return (
            f"warning: no scheduler has run {since}: nothing scheduled will go out until "
            "`alerts serve` runs"
        )


def scheduler_gap(services: Services, within: timedelta = SCHEDULER_FRESH) -> SchedulerGap | None:
    """Pending notices or recurrences with no scheduler seen `within`; None when all is well."""
    if scheduler_seen(services, within):
        return None
    notices, recurrences = waiting_for_clock(services)
    if not notices and not recurrences:
        return None
    last = _latest(services, SCHEDULER)
    return SchedulerGap(notices, recurrences, last, services.clock())


def waiting_for_clock(services: Services) -> tuple[int, int]:
    """The scheduled notices and the active recurrences, which only a scheduler sends."""
    with services.session(read_only=True) as session:
        notices = session.execute(
            select(func.count()).select_from(Notice).where(col(Notice.status) == "scheduled")
        ).scalar_one()
        recurrences = session.execute(
            select(func.count()).select_from(Recurrence).where(col(Recurrence.status) == "active")
        ).scalar_one()
    return notices, recurrences


@dataclass(frozen=True)
class Pulses:
    """What the heartbeats say now (for /health)."""

    leader_at: datetime | None  # the last heartbeat of a process holding the scheduler lock
    worker_at: datetime | None  # the last heartbeat of a dispatch worker
    workers_alive: int  # dispatch workers heard within WORKER_FRESH


def pulses(services: Services) -> Pulses:
    """The scheduler leader's and the workers' last heartbeats, and the workers alive."""
    role, seen_at = col(Heartbeat.role), col(Heartbeat.seen_at)
    with services.session(read_only=True) as session:
        leader_at = session.execute(
            select(func.max(seen_at)).where(role == SCHEDULER, col(Heartbeat.leader))
        ).scalar_one_or_none()
        worker_at, alive = session.execute(
            select(
                func.max(seen_at),
                func.count().filter(seen_at >= services.clock() - WORKER_FRESH),
            ).where(role == WORKER)
        ).one()
    return Pulses(leader_at, worker_at, int(alive or 0))


class Pulse:
    """One live part's heartbeat, written at most every `BEAT_SECONDS` (at once on a change
    of leadership); a database hiccup is logged, never raised into the part's loop."""

    def __init__(self, services: Services, role: str, part: str) -> None:
        self.services = services
        self.role = role
        self.process = process_name(part)
        self._written_at: float | None = None
        self._leader: bool | None = None

    def __call__(self, *, leader: bool = False) -> None:
        now = time.monotonic()
        fresh = self._written_at is not None and now - self._written_at < BEAT_SECONDS
        if fresh and leader == self._leader:
            return
        self._written_at, self._leader = now, leader
        try:
            beat(self.services, self.role, self.process, leader=leader)
        except (SQLAlchemyError, AlertsError) as exc:
            log.warning("cannot write the %s heartbeat: %s", self.role, exc)

    def stop(self) -> None:
        """The part stops cleanly: say so (see `stopped`)."""
        try:
            stopped(self.services, self.role, self.process)
        except (SQLAlchemyError, AlertsError) as exc:
            log.warning("cannot clear the %s heartbeat: %s", self.role, exc)
        self._written_at = self._leader = None
