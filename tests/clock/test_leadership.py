"""One scheduler at a time: PostgreSQL advisory lock, SQLite file lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from alerts.clock.leadership import AdvisoryLock, AlreadyServing, FileLock, leadership_for
from alerts.config import DatabaseSettings
from alerts.storage import db


def test_a_second_process_on_sqlite_is_refused(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "a.db.serve.lock"), FileLock(tmp_path / "a.db.serve.lock")
    assert first.try_acquire() and first.still_held()
    with pytest.raises(AlreadyServing, match="SQLite serves one process"):
        second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_sqlite_lock_sits_beside_the_database(tmp_path: Path) -> None:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'city.db'}"))
    lock = leadership_for(engine)
    assert isinstance(lock, FileLock) and lock.try_acquire()
    assert (tmp_path / "city.db.serve.lock").exists()
    lock.release()
    engine.dispose()


def test_one_advisory_lock_holder_and_takeover(postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.create()
    engines = [db.make_engine(DatabaseSettings(url=url)) for _ in range(2)]
    first, second = (AdvisoryLock(engine, key=4242) for engine in engines)
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.still_held()
    # The server itself probes the holder's connection, for a machine that vanishes.
    assert first._connection is not None
    names = ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
    probes = [first._connection.execute(text(f"SHOW {name}")).scalar() for name in names]
    assert probes == ["10", "5", "3"], probes  # seconds; a Unix socket would show 0
    # The holder's connection dies (as with a killed process): the lock goes with it.
    assert first._connection is not None
    pid = first._connection.execute(text("SELECT pg_backend_pid()")).scalar()
    with engines[1].connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert not first.still_held()
    assert second.try_acquire()
    second.release()
    assert first.try_acquire()
    first.release()
    for engine in engines:
        engine.dispose()
