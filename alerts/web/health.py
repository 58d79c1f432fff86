"""GET /health: whether the service does its job, for a load balancer and for people.

One JSON document: the database, the scheduler (its leader's last heartbeat, whether this
process leads, what waits for it) and the dispatch workers (their last heartbeat, the queue).
503 ("down") when the database does not answer, or when notices or recurring alerts wait and
no scheduler has been heard for two minutes (nothing scheduled would go out); 200 otherwise,
"degraded" when something is amiss that loses nothing yet (no scheduler heard, with nothing
waiting for one; deliveries due with no worker heard), else "ok".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response
from sqlalchemy import text

from alerts.clock.heartbeats import (
    SCHEDULER_FRESH,
    WORKER_FRESH,
    Pulses,
    pulses,
    waiting_for_clock,
)
from alerts.core.composition import describe_duration
from alerts.core.local_time import format_local
from alerts.outbox.outbox import queue_depth
from alerts.wiring import Services

log = logging.getLogger(__name__)


def _never() -> bool:
    return False


@dataclass(frozen=True)
class ThisProcess:
    """What the app is told of the process serving it (alerts.service fills it in)."""

    leads_scheduler: Callable[[], bool] = _never
    workers: int = 0


@dataclass(frozen=True)
class Health:
    """The answer of /health: its HTTP status and its document."""

    status_code: int
    document: dict[str, Any]


def service_health(services: Services, this_process: ThisProcess) -> Health:
    """Ask the database how the service is doing; never raises."""
    leads = this_process.leads_scheduler()
    document: dict[str, Any] = {
        "status": "ok",
        "problems": [],
        "database": {"ok": False, "backend": services.engine.dialect.name},
        "scheduler": {"last_heartbeat": None, "seen": None, "this_process_leads": leads,
                      "pending_notices": None, "active_recurrences": None},
        "dispatch": {"last_heartbeat": None, "workers_alive": None,
                     "this_process_workers": this_process.workers, "queue_depth": None,
                     "due_now": None},
    }  # fmt: skip
    try:
        figures = _figures(services)
    except Exception as exc:  # the health check reports, it never raises
        log.error("health: database unreachable: %s", type(exc).__name__)
        document["database"]["error"] = type(exc).__name__
        document["status"] = "down"
        document["problems"].append(f"the database does not answer ({type(exc).__name__})")
        return Health(503, document)
    document["database"]["ok"] = True
    now, tz = services.clock(), services.settings.service.tz
    beats, (notices, recurrences), queue = figures
    seen = beats.leader_at is not None and now - beats.leader_at <= SCHEDULER_FRESH
    document["scheduler"].update(
        last_heartbeat=_when(beats.leader_at, tz), seen=seen,
        pending_notices=notices, active_recurrences=recurrences,
    )  # fmt: skip
    document["dispatch"].update(
        last_heartbeat=_when(beats.worker_at, tz), workers_alive=beats.workers_alive,
        queue_depth=queue["due"] + queue["later"], due_now=queue["due"],
    )  # fmt: skip
    problems: list[str] = document["problems"]
    code = 200
    if not seen:
        silent = "no scheduler is running"
        if beats.leader_at is not None:
            quiet_for = describe_duration(max((now - beats.leader_at).total_seconds(), 0.0))
            silent = f"no scheduler has run for {quiet_for}"
        if notices or recurrences:
            code = 503
            problems.append(
                f"{silent}: {notices} notice(s) and {recurrences} recurring alert(s) wait for it"
            )
        else:
            problems.append(f"{silent} (nothing waits for one yet)")
    if queue["due"] and not beats.workers_alive:
        problems.append(
            f"{queue['due']} delivery(ies) due and no dispatch worker heard for "
            f"{describe_duration(WORKER_FRESH.total_seconds())}"
        )
    if problems:
        document["status"] = "down" if code == 503 else "degraded"
    return Health(code, document)


def _figures(services: Services) -> tuple[Pulses, tuple[int, int], dict[str, int]]:
    with services.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    beats = pulses(services)
    waiting = waiting_for_clock(services)
    with services.session(read_only=True) as session:
        queue = queue_depth(session, services.clock())
    return beats, waiting, queue


def _when(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return format_local(moment, tz) if moment is not None else None


def health_router(services: Services, this_process: ThisProcess | None = None) -> APIRouter:
    """Route /health: the service's health as JSON; 503 when it cannot do its job."""
    router = APIRouter()
    process = this_process or ThisProcess()

    @router.get("/health")
    def health() -> Response:
        answer = service_health(services, process)
        body = json.dumps(answer.document, ensure_ascii=False)
        return Response(
            body,
            answer.status_code,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    return router
