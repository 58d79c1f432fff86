"""A database made by the previous version upgrades, and its pending work fires under this one.

The fixture was made before the modules moved into packages: its job store names the job
functions as text (`alerts.scheduler:run_notice_job`). The test moves the due jobs to a few
seconds from now through APScheduler's own API, as if 2031 had come, and lets a real
`alerts serve` of this version send them.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, select
from sqlmodel import Session

from alerts.storage.jobs import NOTICE_JOB, RECURRENCE_JOB, job_store
from alerts.storage.models import Notice
from tests.support.processes import file_gateway_env, run_cli, start_serve, stop, wait_until

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "previous-version.db"
ALERT_BODIES = (
    "Collecte des sapins reportée au 16 janvier. Merci!",
    "Christmas tree pickup moved to January 16. Thank you!",
)


def _bring_forward(url: str, job_ids: list[str], at: datetime) -> None:
    """Make these stored jobs due at `at`, as the passing of time would."""
    engine = create_engine(url)
    scheduler = BackgroundScheduler(jobstores={"default": job_store(engine)}, timezone=UTC)
    scheduler.start(paused=True)
    try:
        for job_id in job_ids:
            scheduler.modify_job(job_id, next_run_time=at)
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()


def _stored_jobs(url: str) -> dict[str, str]:
    """The job store's jobs by id, with the function reference each names."""
    engine = create_engine(url)
    store = job_store(engine)
    scheduler = BackgroundScheduler(timezone=UTC)
    store.start(scheduler, "default")
    try:
        return {job.id: job.func_ref for job in store.get_all_jobs()}
    finally:
        store.shutdown()
        engine.dispose()


def _notices(url: str) -> dict[int, Notice]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return {n.id: n for n in session.execute(select(Notice)).scalars() if n.id}
    finally:
        engine.dispose()


def _sent(folder: Path) -> list[dict[str, str]]:
    outbox = folder / "outbox.jsonl"
    lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
    return [json.loads(line) for line in lines]


def test_previous_version_database_upgrades_and_its_pending_work_fires(tmp_path: Path) -> None:
    database = tmp_path / "city.db"
    shutil.copyfile(FIXTURE, database)
    url = f"sqlite:///{database}"
    env = file_gateway_env(url, tmp_path)

    upgraded = run_cli(env, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    jobs = _stored_jobs(url)
    assert jobs == {
        "notice-1": NOTICE_JOB, "notice-2": NOTICE_JOB, "notice-3": NOTICE_JOB,
        "notice-4": NOTICE_JOB, "recurrence-1": RECURRENCE_JOB,
    }  # fmt: skip
    listed = json.loads(run_cli(env, tmp_path, "schedule", "list", "--json").stdout)
    pending = {n["id"] for n in listed["notices"] if n["status"] == "scheduled"}
    assert pending == {1, 2, 3, 4}

    # 2031 comes: the alert's release (notice 1) and the operation's notice (notice 2).
    _bring_forward(
        url, ["notice-1", "notice-2", "recurrence-1"], datetime.now(UTC) + timedelta(seconds=3)
    )
    server = start_serve(env, tmp_path, "serve.log")
    try:
        wait_until(lambda: len(_sent(tmp_path)) >= 7, 60, interval=0.2)
        time.sleep(1.0)  # anything sent twice would show by now
    finally:
        stop(server)
    served = (tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")

    notices = _notices(url)
    assert notices[1].status == "sent" and notices[2].status == "sent", served
    assert notices[3].status == "scheduled" and notices[4].status == "scheduled"
    sent = _sent(tmp_path)
    occurrences = [n for n in notices.values() if n.recurrence_id == 1]
    # The recurring job ran too: its occurrence is recorded (sent, or missed when 19:00 is
    # more than its grace ago).
    assert len(occurrences) == 1 and occurrences[0].status in ("sent", "missed"), served
    radar = [m for m in sent if "radar" in m["body"]]
    assert len(radar) == (3 if occurrences[0].status == "sent" else 0), served
    to_alert = [m for m in sent if m["body"] in ALERT_BODIES]
    assert len(to_alert) == 5 and len({m["to"] for m in to_alert}) == 5, served
    snow = [m for m in sent if m not in to_alert and m not in radar]
    assert len(snow) == 2 and len({m["to"] for m in snow}) == 2, served
