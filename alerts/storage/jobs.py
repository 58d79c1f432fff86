"""The clock's job store: APScheduler's SQLAlchemy store on the service's database.

The `notice` table is the durable record of what is due; this store is the timer. Jobs name
their entry points as text (`alerts.scheduler:run_notice_job`): those names are kept
importable from one stable module, so a city's pending jobs fire after any upgrade.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from alerts.core.schedule_rules import parse_recurrence

JOB_TABLE = "scheduler_job"
# The textual references stored with every job: never rename these (see alerts/scheduler.py).
NOTICE_JOB = "alerts.scheduler:run_notice_job"
RECURRENCE_JOB = "alerts.scheduler:run_recurrence_job"


class Timer(Protocol):
    """Where the clock's jobs go: one per pending notice, one per recurring schedule."""

    def add_notice(self, notice_id: int, due_at: datetime, grace: int) -> None:
        """A job firing notice `notice_id` at `due_at`, late by at most `grace` seconds."""

    def remove_notice(self, notice_id: int) -> None:
        """Drop a notice's job if it is still there."""

    def add_recurrence(self, recurrence_id: int, schedule: str, tz: ZoneInfo, grace: int) -> None:
        """A job firing a recurring schedule at its wall-clock times, across DST."""

    def remove_recurrence(self, recurrence_id: int) -> None:
        """Drop a recurring schedule's job."""

    def job_ids(self) -> set[str]:
        """Ids of the jobs in the database's store."""


def job_store(engine: Engine) -> SQLAlchemyJobStore:
    """APScheduler's store on the service's database."""
    return SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)


def recurrence_trigger(schedule: str, tz: ZoneInfo) -> CronTrigger:
    """The cron trigger of a recurring schedule ("daily 19:00") in the service's zone."""
    return CronTrigger(**parse_recurrence(schedule).cron_fields(), timezone=tz)


class JobStoreTimer:
    """Adds and removes the jobs of notices and recurring schedules through a scheduler."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self._scheduler = scheduler

    def add_notice(self, notice_id: int, due_at: datetime, grace: int) -> None:
        """A one-off job firing notice `notice_id` at `due_at` (late by at most `grace` s)."""
        self._scheduler.add_job(
            NOTICE_JOB,
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

    def add_recurrence(self, recurrence_id: int, schedule: str, tz: ZoneInfo, grace: int) -> None:
        """A cron job firing a recurring schedule at its wall-clock times, across DST."""
        self._scheduler.add_job(
            RECURRENCE_JOB,
            recurrence_trigger(schedule, tz),
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

    def close(self) -> None:
        """Release the scheduler's job store connections (never waits for running jobs)."""
        self._scheduler.shutdown(wait=False)

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


def store_only_timer(engine: Engine) -> JobStoreTimer:
    """A timer for a process that writes schedules but runs none (the CLI).

    APScheduler 3 keeps a job added to a scheduler that is not running in memory; this one
    is started paused, so its jobs land in the database at once.
    """
    scheduler = _StoreWriter(
        jobstores={"default": job_store(engine)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    scheduler.start(paused=True)
    return JobStoreTimer(scheduler)
