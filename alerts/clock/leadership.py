"""Who runs the scheduler: one process at a time, chosen by a lock the database or OS holds.

PostgreSQL: a session-level advisory lock on a dedicated connection. The holder keeps it as
long as its connection lives; when the process dies, PostgreSQL drops the lock and another
process takes it at its next try. SQLite: the service is one process, so an OS file lock
beside the database refuses a second `alerts serve` with a clear message.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from alerts.errors import AlertsError

log = logging.getLogger(__name__)
SCHEDULER_LOCK_KEY = 0x616C7363  # "alsc": shared by every process of the service
# The lock lives as long as the holder's session. A killed process closes its socket, but a
# machine that vanishes does not: the server probes the idle connection and ends the session
# after 10 + 3 x 5 = 25 s, so another process takes over within the 30 s allowed.
_HOLDER_KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5,
                      "tcp_keepalives_count": 3}  # fmt: skip


class AlreadyServing(AlertsError):
    """Another `alerts serve` already uses this SQLite database."""


class Leadership(Protocol):
    """A lock deciding which process runs the scheduler."""

    def try_acquire(self) -> bool:
        """Take the lock if free; True while this process holds it."""
        ...

    def still_held(self) -> bool:
        """Whether the lock is still ours (a lost connection loses it)."""
        ...

    def release(self) -> None:
        """Give the lock up."""
        ...


class AdvisoryLock:
    """PostgreSQL's pg_try_advisory_lock on a connection kept open for the purpose."""

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        try:
            connection = self._engine.connect()
            for name, value in _HOLDER_KEEPALIVES.items():  # set_config: SET takes no binds
                connection.execute(
                    text("SELECT set_config(:n, :v, false)"), {"n": name, "v": str(value)}
                )
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            held = bool(got.scalar())
            connection.commit()
        except SQLAlchemyError as exc:
            log.warning("scheduler lock: database unreachable (%s)", type(exc).__name__)
            return False
        if not held:
            connection.close()
            return False
        self._connection = connection
        log.info("scheduler lock taken: this process runs the scheduler")
        return True

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except SQLAlchemyError:
            log.error("scheduler lock lost with its database connection")
            self._drop()
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._connection.commit()
        except SQLAlchemyError:
            pass  # a dead connection has released it already
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except SQLAlchemyError:
                pass
        self._connection = None


class FileLock:
    """An exclusive OS lock on a file beside the SQLite database, for the whole process."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: int | None = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        handle = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
            os.close(handle)
            raise AlreadyServing(
                f"another `alerts serve` (pid {holder}) already uses this SQLite database; "
                "SQLite serves one process: stop it, or use PostgreSQL to run several"
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        self._handle = handle
        return True

    def still_held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None


def leadership_for(engine: Engine) -> Leadership:
    """The right lock for this database: advisory on PostgreSQL, a file beside SQLite."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database or ""
    if not database or database == ":memory:":  # a private database: nobody to exclude
        return FileLock(Path(tempfile.gettempdir()) / f"alerts-memory-{os.getpid()}.lock")
    return FileLock(Path(f"{database}.serve.lock"))
