"""Fixtures of every test package: databases on SQLite and PostgreSQL, settings, wired
services, the shared city data, the fake Twilio and the public town with open metrics."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alerts.config import Settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.measurements import MEASURED
from tests.support.public import Clock, public_services
from tests.support.shared_data import require_data

if TYPE_CHECKING:
    from alerts.wiring import Services

PG_SERVER = os.environ.get("ALERTS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
REQUIRE_POSTGRES = os.environ.get("ALERTS_REQUIRE_POSTGRES") == "1"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests measured (rates, agreement, lateness) so a run shows it without -s."""
    for section, figures in MEASURED.items():
        terminalreporter.section(f"{section} measurements")
        for name, value in figures.items():
            terminalreporter.write_line(f"{name}: {value}")


def _postgres_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        import psycopg

        with psycopg.connect(_libpq(f"{PG_SERVER}/test"), connect_timeout=3):
            return None
    except Exception as exc:
        return f"no PostgreSQL server at {PG_SERVER} ({type(exc).__name__})"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


_READY_AHEAD = 3  # PostgreSQL test databases made before a test asks


class PostgresDatabases:
    """Creates throw-away databases on the local server, each from a migrated template."""

    def __init__(self) -> None:
        import psycopg

        self._psycopg = psycopg
        self._template = f"alerts_tmpl_{uuid.uuid4().hex[:10]}"
        self._made: list[str] = []
        # Dropping a database waits for a checkpoint (about 80 ms): a test's database is
        # dropped in the background while the next tests run, not all at the end.
        self._done: queue.Queue[str | None] = queue.Queue()
        self._dropper = threading.Thread(target=self._drop_released, daemon=True)
        self._dropper.start()
        self._admin(f'CREATE DATABASE "{self._template}"')
        from alerts.wiring import build

        services = build(Settings().with_overrides(**{"database.url": self.url(self._template)}))
        services.close()
        # And the next tests' databases are copied from the template ahead of their need.
        self._ready: queue.Queue[str] = queue.Queue(maxsize=_READY_AHEAD)
        self._stopping = threading.Event()
        self._maker = threading.Thread(target=self._make_ahead, daemon=True)
        self._maker.start()

    def url(self, name: str) -> str:
        """The SQLAlchemy URL of a database on the test server."""
        return f"{PG_SERVER}/{name}"

    def create(self) -> str:
        """A new database already at the newest schema; returns its URL."""
        try:
            name = self._ready.get(timeout=5)
        except queue.Empty:  # the maker fell behind, or stopped: one made here says why
            name = f"alerts_t_{uuid.uuid4().hex[:12]}"
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._made.append(name)
        return self.url(name)

    def create_empty(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"alerts_e_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self._made.append(name)
        return self.url(name)

    def release(self, url: str) -> None:
        """The test using this database is over: drop it soon, in the background."""
        name = url.rsplit("/", 1)[1]
        self._made.remove(name)
        self._done.put(name)

    def drop_all(self) -> None:
        """Drop every database made by this run."""
        self._stopping.set()
        while self._maker.is_alive():  # it may wait for room in the queue
            with contextlib.suppress(queue.Empty):
                self._made.append(self._ready.get(timeout=0.1))
        while not self._ready.empty():
            self._made.append(self._ready.get())
        self._done.put(None)
        self._dropper.join()
        for name in [*self._made, self._template]:
            self._drop(name)

    def _make_ahead(self) -> None:
        while not self._stopping.is_set():
            name = f"alerts_t_{uuid.uuid4().hex[:12]}"
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
            self._ready.put(name)

    def _drop_released(self) -> None:
        while (name := self._done.get()) is not None:
            self._drop(name)

    def _drop(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        with self._psycopg.connect(_libpq(f"{PG_SERVER}/test"), autocommit=True) as conn:
            conn.execute(sql)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """The PostgreSQL test server; skipped when absent unless ALERTS_REQUIRE_POSTGRES=1."""
    reason = _postgres_reason()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"ALERTS_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the newest schema, migrated once for the whole run."""
    from alerts.wiring import build

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    build(Settings().with_overrides(**{"database.url": f"sqlite:///{path}"})).close()
    assert not path.with_name("template.db-wal").exists()  # closed cleanly: one whole file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        # A copy of the migrated template: running the migrations takes 0.15 s a test.
        path = tmp_path / "alerts.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        path.chmod(0o600)  # as the service makes its databases
        return f"sqlite:///{path}"
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    url = databases.create()
    request.addfinalizer(lambda: databases.release(url))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings on the fresh database with a file gateway in the test's folder."""
    return Settings().with_overrides(
        **{
            "database.url": database_url,
            "gateway.kind": "file",
            "gateway.file_path": str(tmp_path / "outbox.jsonl"),
        }
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Wired services on an empty database."""
    from alerts.wiring import build

    wired = build(settings)
    yield wired
    wired.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real city data folder (../shared/data): a test asking for it skips without it, or
    fails with ALERTS_REQUIRE_DATA=1 (see tests/support/shared_data.py)."""
    return require_data()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """A started fake Twilio, stopped afterwards."""
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def open_metrics_town(settings: Settings) -> Iterator[Services]:
    """The public demo town whose /metrics answers any client, the test client included
    (it is not on loopback)."""
    services = public_services(settings, Clock(), **{"web.metrics_loopback_only": False})
    yield services
    services.close()
