"""APScheduler wiring only: the job store on the service's database, the scheduler role, jobs.

Jobs call service functions (alerts.notices) and nothing else. APScheduler 3 keeps a job
added to a scheduler that is not running in memory, so processes that only write schedules
(the CLI) use a scheduler started paused: its jobs land in the database at once. The process
holding the scheduler role wakes every `schedule.poll_seconds` to see jobs others wrote.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from alerts.leadership import Leadership
from alerts.models import Notice, Recurrence
from alerts.notices import arm, fire_notice, mark_missed, pending_notices, quiet_time
from alerts.schedule_rules import parse_recurrence
from alerts.subscription_requests import forget_stale_requests
from alerts.wiring import Services

log = logging.getLogger(__name__)
JOB_TABLE = "scheduler_job"
_RECONCILE_EVERY = 30  # ticks between two reconciliations of the job store with the notices
_HOUSEKEEPING_SECONDS = 3600  # how often unconfirmed subscription requests are forgotten

# The services of the scheduler running in this process: APScheduler stores jobs as textual
# references to module functions, so the job functions find their services here.
_running: Services | None = None


def _job_store(services: Services) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(engine=services.engine, tablename=JOB_TABLE)


def _new_scheduler(services: Services) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": _job_store(services), "local": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(4)},
        # Never the 1-second default: each job gets its kind's grace when it is added.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 1800},
        timezone=UTC,
    )


class NoticeTimer:
    """Adds and removes the jobs of notices and recurring schedules in the job store."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self._scheduler = scheduler

    def add_notice(self, notice_id: int, due_at: datetime, grace: int) -> None:
        """A one-off job firing notice `notice_id` at `due_at` (late by at most `grace` s)."""
        self._scheduler.add_job(
            "alerts.scheduler:run_notice_job",
            "date",
            run_date=due_at,
            args=[notice_id],
            id=f"notice-{notice_id}",
            name=f"notice {notice_id}",
            misfire_grace_time=grace,
            replace_existing=True,
        )

    def remove_notice(self, notice_id: int) -> None:
        """Drop a notice's job if it is still there."""
        self._remove(f"notice-{notice_id}")

    def add_recurrence(self, recurrence_id: int, schedule: str, tz: Any, grace: int) -> None:
        """A cron job firing a recurring schedule at its wall-clock times, across DST."""
        trigger = CronTrigger(**parse_recurrence(schedule).cron_fields(), timezone=tz)
        self._scheduler.add_job(
            "alerts.scheduler:run_recurrence_job",
            trigger,
            args=[recurrence_id],
            id=f"recurrence-{recurrence_id}",
            name=f"recurring {schedule}",
            misfire_grace_time=grace,
            coalesce=True,
            replace_existing=True,
        )

    def remove_recurrence(self, recurrence_id: int) -> None:
        """Drop a recurring schedule's job."""
        self._remove(f"recurrence-{recurrence_id}")

    def job_ids(self) -> set[str]:
        """Ids of the jobs in the database's store."""
        return {job.id for job in self._scheduler.get_jobs(jobstore="default")}

    def _remove(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id, jobstore="default")


class _StoreWriter(BaseScheduler):
    """A scheduler with no loop: jobs added to it land in the store and never run here.

    A paused BackgroundScheduler is not enough: on shutdown its loop processes due jobs once
    more, and would take a job due now out of the store for the process that runs them.
    """

    def wakeup(self) -> None:
        """Nothing to wake: this scheduler never runs jobs."""

    def shutdown(self, wait: bool = True) -> None:
        """Release the job store's connections."""
        super().shutdown(wait)


def timer_for(services: Services) -> NoticeTimer:
    """The timer of this process: the running scheduler's, or a store-only one (the CLI)."""
    scheduler = services.scheduler
    if scheduler is None:
        scheduler = _StoreWriter(
            jobstores={"default": _job_store(services)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        scheduler.start(paused=True)  # started, so jobs are persisted at once
        services.scheduler = scheduler
    return NoticeTimer(scheduler)


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


def fire_recurrence(services: Services, recurrence_id: int, due: datetime | None = None) -> None:
    """Record this occurrence of a recurring schedule as a notice, then fire it once.

    An occurrence that falls in quiet hours (and is not urgent) is recorded for their end and
    armed like any notice, instead of being sent now.
    """
    with services.session(read_only=True) as session:
        recurrence = session.get(Recurrence, recurrence_id)
        if recurrence is None or recurrence.status != "active":
            return
        schedule, kind = recurrence.schedule, recurrence.kind
        urgent = bool(recurrence.request.get("urgent"))
    tz = services.settings.service.tz
    due = due or latest_fire_time(schedule, tz, services.clock())
    release = quiet_time(services, due, urgent)
    notice_id = _occurrence(services, recurrence_id, release)
    if notice_id is None:
        return
    if release > due:
        arm(services, [(notice_id, release, services.settings.schedule.grace(kind))])
        return
    fire_notice(services, notice_id)


def _occurrence(
    services: Services, recurrence_id: int, due: datetime, status: str = "scheduled"
) -> int | None:
    """The notice of one occurrence; None when another process recorded it first."""
    try:
        with services.session() as session:
            notice = Notice(
                recurrence_id=recurrence_id, kind="recurring", due_at=due, status=status
            )
            session.add(notice)
            session.flush()
            return notice.id
    except IntegrityError:
        return None


def latest_fire_time(schedule: str, tz: Any, now: datetime) -> datetime:
    """The last wall-clock time of a schedule at or before `now` (aware UTC)."""
    trigger = CronTrigger(**parse_recurrence(schedule).cron_fields(), timezone=tz)
    moment = trigger.get_next_fire_time(None, now - timedelta(days=8))
    latest = moment
    while moment is not None and moment <= now:
        latest = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    assert latest is not None
    return latest.astimezone(UTC)


class ClockRole:
    """Runs the scheduler while this process holds the scheduler lock; retries otherwise."""

    def __init__(self, services: Services, leadership: Leadership, stop: threading.Event) -> None:
        self.services = services
        self.leadership = leadership
        self.stop = stop
        self.scheduler: BackgroundScheduler | None = None
        self._ticks = 0
        self._housekept_at: float | None = None

    @property
    def leading(self) -> bool:
        """Whether this process runs the scheduler now."""
        return self.scheduler is not None

    def run(self) -> None:
        """Until stopped: take the role when free, keep it while held, give it up at the end."""
        settings = self.services.settings.schedule
        try:
            while not self.stop.is_set():
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

    def _start(self) -> None:
        global _running
        scheduler = _new_scheduler(self.services)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        _running = self.services
        self.services.scheduler = scheduler
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
            self.services.scheduler = None

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
        timer = NoticeTimer(self.scheduler) if self.scheduler else None
        if timer is None:
            return
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
            if _occurrence(self.services, int(number), due, status="missed") is not None:
                log.warning("recurring schedule %s missed its %s run: %s", number, due, why)

    def _on_error(self, event: JobExecutionEvent) -> None:
        log.error("scheduled job %s failed: %r", event.job_id, event.exception)
