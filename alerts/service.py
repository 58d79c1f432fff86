"""One `alerts serve` process: the web app, the scheduler role and dispatch workers.

By default a process plays every role. Several processes on one PostgreSQL database split
them (`--no-web`, `--no-scheduler`, `--workers N`): every process may serve the web and
dispatch, and the scheduler runs in whichever holds the advisory lock. On SQLite the service
is one process, and a second one is refused at start. The scheduler role and each worker
leave a heartbeat in the database (alerts.clock.heartbeats), which the CLI reads.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from alerts.clock.heartbeats import WORKER, Pulse
from alerts.clock.leadership import FileLock, Leadership, leadership_for
from alerts.clock.scheduler import ClockRole
from alerts.errors import AlertsError
from alerts.outbox.dispatch import run_worker
from alerts.wiring import Services

log = logging.getLogger(__name__)
_WORKER_RESTART_SECONDS = 30.0


@dataclass(frozen=True)
class Roles:
    """What this process does."""

    web: bool = True
    scheduler: bool = True
    workers: int = 1
    host: str = "127.0.0.1"
    port: int = 8000


class ServiceProcess:
    """Starts the roles in threads, serves the web (if asked) and stops everything cleanly."""

    def __init__(self, services: Services, roles: Roles) -> None:
        self.services = services
        self.roles = roles
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._leadership: Leadership = leadership_for(services.engine)
        self.clock: ClockRole | None = None

    def run(self) -> None:
        """Run until SIGINT/SIGTERM (or the web server ends)."""
        if isinstance(self._leadership, FileLock):
            self._leadership.try_acquire()  # SQLite: refuse a second process right away
        try:
            self.start_background()
            if self.roles.web:
                self._serve_web()
            else:
                self._wait_for_signal()
        finally:
            self.shutdown()

    def start_background(self) -> None:
        """Start the scheduler role and the dispatch workers in threads."""
        if self.roles.scheduler:
            self.clock = ClockRole(self.services, self._leadership, self.stop)
            self._spawn("scheduler", self.clock.run)
        for number in range(self.roles.workers):
            self._spawn(f"dispatch-{number + 1}", self._dispatch_loop)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _dispatch_loop(self) -> None:
        # A worker that has to stop (bad credentials, a database outage) pauses and tries
        # again later; the other roles go on (the worker never sets the process's `stop`).
        # Its heartbeat goes with it: while it pauses, `alerts send` dispatches inline.
        pulse = Pulse(self.services, WORKER, threading.current_thread().name)
        while not self.stop.is_set():
            try:
                report = run_worker(self.services, stop=self.stop, heartbeat=pulse)
            except AlertsError as exc:
                log.error("dispatch worker stopped: %s", exc)
                report = None
            finally:
                pulse.stop()
            if self.stop.is_set():
                return
            reason = report.stopped if report is not None else "error"
            log.error(
                "dispatch worker paused (%s); retrying in %.0f s", reason, _WORKER_RESTART_SECONDS
            )
            self.stop.wait(_WORKER_RESTART_SECONDS)

    def _serve_web(self) -> None:
        import uvicorn

        from alerts.web.app import create_app
        from alerts.web.health import ThisProcess
        from alerts.web.server_protocol import BoundedHttpToolsProtocol

        # Behind the TLS proxy, a request's client and scheme are the ones the proxy names
        # (X-Forwarded-For, X-Forwarded-Proto), believed from the configured proxies only:
        # /metrics' loopback check sees the outside client, not the proxy on 127.0.0.1.
        proxies = list(self.services.settings.web.forwarded_allow_ips)
        this_process = ThisProcess(self._leads_scheduler, self.roles.workers)
        config = uvicorn.Config(
            create_app(self.services, this_process),
            host=self.roles.host,
            port=self.roles.port,
            # uvicorn's lines go through the process's own logging (alerts.logs), at its
            # levels; its access log only when that lets it through (log.level DEBUG).
            log_config=None,
            log_level=None,
            access_log=logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO),
            http=BoundedHttpToolsProtocol,  # httptools, with a bound on a request's head
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies,  # never uvicorn's own $FORWARDED_ALLOW_IPS
        )
        # uvicorn stops on SIGINT/SIGTERM, then raises the signal again under the handler it
        # found: this one, so that shutdown() still stops the roles and lets their sends in
        # flight finish (under the default handler the process would end right there).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop.set())
        uvicorn.Server(config).run()

    def _leads_scheduler(self) -> bool:
        return self.clock is not None and self.clock.leading

    def _wait_for_signal(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop.set())
        while not self.stop.wait(1.0):
            pass

    def shutdown(self) -> None:
        """Stop every role and wait for the threads (in-flight sends finish first)."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.clock is None:
            self._leadership.release()
