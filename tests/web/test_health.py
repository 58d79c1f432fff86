"""GET /health: the database, the scheduler and the dispatch workers as the heartbeats tell
them, 503 when the database is down or notices wait with no scheduler; and a live process."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from alerts.clock.heartbeats import SCHEDULER, WORKER, beat
from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Heartbeat, Notice
from alerts.web.app import create_app
from alerts.web.health import ThisProcess
from alerts.wiring import Services, build
from tests.support.dispatch import bulk_subscribers
from tests.support.processes import file_gateway_env, free_port, start_cli, stop, wait_until
from tests.support.public import zone_ids


def health(services: Services, this_process: ThisProcess | None = None) -> tuple[int, Any]:
    """/health's status code and its JSON document, from an app on these services."""
    with TestClient(create_app(services, this_process)) as client:
        response = client.get("/health")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    return response.status_code, response.json()


def when(text: str | None) -> datetime:
    """An ISO 8601 time of the document (with its offset, in the service time zone)."""
    assert text is not None
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None, text
    return moment


def add_scheduled_notice(services: Services) -> None:
    with services.session() as session:
        session.add(Notice(kind="alert", due_at=services.clock() + timedelta(hours=1)))


def test_fresh_heartbeats_are_ok(app_services: Services) -> None:
    beat(app_services, SCHEDULER, "host:1:scheduler", leader=True)
    beat(app_services, WORKER, "host:1:dispatch-1")
    add_scheduled_notice(app_services)  # waiting, but a scheduler runs: nothing wrong
    code, document = health(app_services, ThisProcess(lambda: True, workers=2))
    assert code == 200, document
    assert document["status"] == "ok" and document["problems"] == []
    assert document["database"] == {"ok": True, "backend": app_services.engine.dialect.name}
    scheduler, dispatch = document["scheduler"], document["dispatch"]
    now = datetime.now(UTC)
    assert abs(now - when(scheduler["last_heartbeat"])) < timedelta(seconds=30)
    assert scheduler["seen"] is True and scheduler["this_process_leads"] is True
    assert scheduler["pending_notices"] == 1 and scheduler["active_recurrences"] == 0
    assert abs(now - when(dispatch["last_heartbeat"])) < timedelta(seconds=30)
    assert dispatch["workers_alive"] == 1 and dispatch["this_process_workers"] == 2
    assert dispatch["queue_depth"] == 0 and dispatch["due_now"] == 0
    # A process without the scheduler role (or the app alone) says so.
    assert health(app_services)[1]["scheduler"]["this_process_leads"] is False


def test_pending_notices_without_a_scheduler_for_two_minutes_are_503(
    app_services: Services,
) -> None:
    add_scheduled_notice(app_services)
    code, document = health(app_services)
    assert code == 503 and document["status"] == "down", document
    assert document["database"]["ok"] is True
    assert document["scheduler"]["last_heartbeat"] is None
    assert document["scheduler"]["seen"] is False
    assert "no scheduler is running: 1 notice(s)" in document["problems"][0]
    # A leader last heard three minutes ago is as good as none; one heard now clears it.
    three_minutes_ago = app_services.clock() - timedelta(minutes=3)
    with app_services.session() as session:
        session.execute(
            insert(Heartbeat).values(role=SCHEDULER, process="host:2:scheduler", leader=True,
                                     seen_at=three_minutes_ago, started_at=three_minutes_ago)
        )  # fmt: skip
    code, document = health(app_services)
    assert code == 503, document
    assert "no scheduler has run for 3 min" in document["problems"][0]
    shown = when(document["scheduler"]["last_heartbeat"])
    assert shown == three_minutes_ago.replace(microsecond=0)  # to the second
    beat(app_services, SCHEDULER, "host:2:scheduler", leader=True)
    assert health(app_services)[0] == 200


def test_no_scheduler_with_nothing_waiting_is_degraded_but_200(app_services: Services) -> None:
    # A process standing by for the scheduler lock (not leading) is not a scheduler running.
    beat(app_services, SCHEDULER, "host:3:scheduler", leader=False)
    code, document = health(app_services)
    assert code == 200 and document["status"] == "degraded", document
    assert document["problems"] == ["no scheduler is running (nothing waits for one yet)"]
    assert document["scheduler"]["pending_notices"] == 0


def test_deliveries_due_without_a_worker_are_degraded_with_the_queue_depth(
    app_services: Services,
) -> None:
    beat(app_services, SCHEDULER, "host:4:scheduler", leader=True)
    (zone,) = zone_ids(app_services, "Saint-Éloi")
    bulk_subscribers(app_services, range(3), zone)
    send_alert(
        app_services,
        AlertRequest("snow", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Neige")),
    )
    code, document = health(app_services)
    assert code == 200 and document["status"] == "degraded", document
    assert document["dispatch"]["queue_depth"] == 3 and document["dispatch"]["due_now"] == 3
    assert document["dispatch"]["workers_alive"] == 0
    assert document["problems"] == ["3 delivery(ies) due and no dispatch worker heard for 30 s"]
    beat(app_services, WORKER, "host:4:dispatch-1")
    code, document = health(app_services)
    assert (code, document["status"], document["dispatch"]["workers_alive"]) == (200, "ok", 1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_that_does_not_answer_is_503_and_still_json(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'alerts.db'}"
    else:
        databases = request.getfixturevalue("postgres")
        url = databases.url("alerts_never_created")
    services = build(Settings().with_overrides(**{"database.url": url}), migrate=False)
    shutil.rmtree(folder)  # the SQLite file's folder went (a volume unmounted, say)
    try:
        code, document = health(services, ThisProcess(workers=1))
    finally:
        services.close()
    assert code == 503, document
    assert document["status"] == "down"
    assert document["database"]["ok"] is False and document["database"]["backend"] == backend
    assert document["database"]["error"] == "OperationalError"
    assert document["problems"] == ["the database does not answer (OperationalError)"]
    assert document["scheduler"]["last_heartbeat"] is None
    assert document["dispatch"]["queue_depth"] is None
    assert document["dispatch"]["this_process_workers"] == 1


def test_a_live_serve_reports_that_it_leads_and_its_workers_beat(tmp_path: Path) -> None:
    port = free_port()
    env = file_gateway_env(f"sqlite:///{tmp_path / 'alerts.db'}", tmp_path)
    server = start_cli(env, tmp_path, "serve", "--port", str(port), "--workers", "2",
                       log=tmp_path / "serve.log")  # fmt: skip
    answers: list[tuple[int, Any]] = []

    def leading_and_beating() -> bool:
        try:
            response = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx2.TransportError:
            return server.poll() is not None  # not up yet, or gone (then the assert says)
        answers.append((response.status_code, response.json()))
        document = answers[-1][1]
        return bool(
            document["scheduler"]["this_process_leads"] and document["dispatch"]["workers_alive"]
        )

    try:
        up = wait_until(leading_and_beating, 60, interval=0.2) and server.poll() is None
        assert up and answers, (tmp_path / "serve.log").read_text()
    finally:
        stop(server, timeout=20)
    code, document = answers[-1]
    assert code == 200 and document["status"] == "ok", document
    now = datetime.now(UTC)
    assert document["scheduler"]["seen"] is True
    assert now - when(document["scheduler"]["last_heartbeat"]) < timedelta(seconds=30)
    assert now - when(document["dispatch"]["last_heartbeat"]) < timedelta(seconds=30)
    assert document["dispatch"]["workers_alive"] >= 1
    assert document["dispatch"]["this_process_workers"] == 2
