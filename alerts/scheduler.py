"""The job store's entry points, by the names APScheduler keeps with every job.

A city's database holds pending jobs as the text `alerts.scheduler:run_notice_job` and
`alerts.scheduler:run_recurrence_job` (see alerts.storage.jobs): these two names stay
importable here whatever else moves, so pending work fires after any upgrade.
"""

from __future__ import annotations

from alerts.clock.scheduler import run_notice_job, run_recurrence_job

__all__ = ["run_notice_job", "run_recurrence_job"]
