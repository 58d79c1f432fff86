"""The scheduler role: APScheduler running on the database's job store, in one process.

The process holding the scheduler lock runs the jobs; it wakes every `schedule.poll_seconds`
to see jobs other processes wrote (the CLI), puts back any job the store lost, and forgets
subscription requests never confirmed. Jobs call the clock's use-cases and nothing else.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlmodel import col

from alerts.clock.heartbeats import SCHEDULER, Pulse
from alerts.clock.leadership import Leadership
from alerts.clock.notices import fire_notice, mark_missed, pending_notices
from alerts.clock.recurring import fire_recurrence, record_occurrence
from alerts.sms.subscription_requests import forget_stale_requests
from alerts.storage.jobs import JobStoreTimer, job_store
from alerts.storage.models import Recurrence
from alerts.wiring import Services

log = logging.getLogger(__name__)
_RECONCILE_EVERY = 30  # ticks between two reconciliations of the job store with the notices
_HOUSEKEEPING_SECONDS = 3600  # how often unconfirmed subscription requests are forgotten

# The services of the scheduler running in this process: APScheduler stores jobs as textual
# references to module functions, so the job functions find their services here.
_running: Services | None = None


def _new_scheduler(services: Services) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": job_store(services.engine), "local": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(4)},
        # Never the 1-second default: each job gets its kind's grace when it is added.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 1800},
        timezone=UTC,
    )


def run_notice_job(notice_id: int) -> None:
    """Job entry point: fire one notice."""
    fire_notice(_services(), notice_id)


def run_recurrence_job(recurrence_id: int) -> None:
    """Job entry point: fire a recurring schedule for its latest due time."""
    fire_recurrence(_services(), recurrence_id)


def _services() -> Services:
    if _running is None:
        raise RuntimeError("no scheduler is running in this process")
    return _running


class ClockRole:
    """Runs the scheduler while this process holds the scheduler lock; retries otherwise."""

    def __init__(self, services: Services, leadership: Leadership, stop: threading.Event) -> None:
        self.services = services
        self.leadership = leadership
        self.stop = stop
        self.scheduler: BackgroundScheduler | None = None
        self._ticks = 0
        self._housekept_at: float | None = None
        self.pulse = Pulse(services, SCHEDULER, "scheduler")

    @property
    def leading(self) -> bool:
        """Whether this process runs the scheduler now."""
        return self.scheduler is not None

    def run(self) -> None:
        """Until stopped: take the role when free, keep it while held, give it up at the end."""
        settings = self.services.settings.schedule
        try:
            while not self.stop.is_set():
                self.pulse(leader=self.leading)  # commands warn when no scheduler is seen
                if not self.leading:
                    if self.leadership.try_acquire():
                        self._start()
                    else:
                        self.stop.wait(settings.leader_retry_seconds)
                    continue
                if not self.leadership.still_held():
                    log.error("scheduler role lost; stopping this process's scheduler")
                    self._halt()
                self.stop.wait(2.0)
        finally:
            self._halt()
            self.leadership.release()
            self.pulse.stop()

    def _start(self) -> None:
        global _running
        scheduler = _new_scheduler(self.services)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        _running = self.services
        self.services.use_timer(JobStoreTimer(scheduler))
        scheduler.start()
        self.scheduler = scheduler
        self.reconcile()
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.services.settings.schedule.poll_seconds,
            id="tick",
            jobstore="local",
            misfire_grace_time=None,
        )
        log.info("scheduler started")

    def _halt(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
            self.services.use_timer(None)

    def _tick(self) -> None:
        # Waking up is the point (the scheduler then reads jobs other processes wrote);
        # now and then, also put back any job the store lost (a crash mid-fire, say).
        self._ticks += 1
        if self._ticks % _RECONCILE_EVERY == 0:
            self.reconcile()
        due = (
            self._housekept_at is None
            or time.monotonic() - self._housekept_at > _HOUSEKEEPING_SECONDS
        )
        if due:
            self._housekept_at = time.monotonic()
            forgotten = forget_stale_requests(self.services)
            if forgotten:
                log.info("forgot %d subscription request(s) never confirmed", forgotten)

    def reconcile(self) -> None:
        """Give every scheduled notice and active recurrence its job, if it has none."""
        if self.scheduler is None:
            return
        timer = JobStoreTimer(self.scheduler)
        held = timer.job_ids()
        for notice_id, due_at, grace in pending_notices(self.services):
            if f"notice-{notice_id}" not in held:
                timer.add_notice(notice_id, due_at, grace)
        settings = self.services.settings
        with self.services.session(read_only=True) as session:
            recurrences = (
                session.execute(select(Recurrence).where(col(Recurrence.status) == "active"))
                .scalars()
                .all()
            )
        for recurrence in recurrences:
            if f"recurrence-{recurrence.id}" not in held and recurrence.id is not None:
                grace = settings.schedule.grace(recurrence.kind)
                timer.add_recurrence(recurrence.id, recurrence.schedule, settings.service.tz, grace)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        late = datetime.now(UTC) - event.scheduled_run_time
        why = f"late by {late.total_seconds():.0f} s: the scheduler was not running in time"
        kind, _, number = event.job_id.partition("-")
        if kind == "notice":
            mark_missed(self.services, int(number), why)
        elif kind == "recurrence":
            due = event.scheduled_run_time.astimezone(UTC)
            if record_occurrence(self.services, int(number), due, status="missed") is not None:
                log.warning("recurring schedule %s missed its %s run: %s", number, due, why)

    def _on_error(self, event: JobExecutionEvent) -> None:
        log.error("scheduled job %s failed: %r", event.job_id, event.exception)
