"""SQLite backups with SQLite's online backup API, and restores that keep what they replace.

A backup copies the pages inside one read transaction: in WAL mode (the service's) that is a
snapshot writers never wait for, so the copy is one consistent state however busy the
service is. A restore first takes the lock `alerts serve` holds, then an exclusive lock on
the database, which SQLite refuses while any other process has it open.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from alerts.config import DatabaseSettings
from alerts.storage.snapshots import (
    COUNTED,
    OWN_TABLES,
    BackupError,
    DatabaseInUse,
    Snapshot,
    create_private,
    free_name,
    stamp,
    written_into_place,
)

# Pages copied per step (4 MB at SQLite's default page size).
STEP_PAGES = 1024
_NON_WAL_PAUSE_S = 0.005
# The file `alerts serve` locks beside its SQLite database (alerts.clock.leadership).
SERVE_LOCK_SUFFIX = ".serve.lock"
_HEADER = b"SQLite format 3\x00"
_IN_USE_TIMEOUT_S = 0.5


def copy(source: Path, target: Path, settings: DatabaseSettings) -> Snapshot:
    """Copy the database at `source` to `target`: one consistent state, checked, a single
    self-contained file (no `-wal`), readable by its owner only."""
    if not source.is_file():
        raise BackupError(f"backup: no database at {source}")
    with written_into_place(target) as partial:
        reader = _open(source, settings.busy_timeout_ms / 1000)
        try:
            written = sqlite3.connect(partial, isolation_level=None)
            try:
                _copy_consistently(reader, written)
                # The source is in WAL mode, and so is the copy: make it one file.
                written.execute("PRAGMA journal_mode=DELETE")
                _check_integrity(written, "backup: the copy")
            finally:
                written.close()
        finally:
            reader.close()
    return view(target)


def inspect(path: Path) -> Snapshot:
    """The backup at `path`, checked: a sound SQLite file holding this service's tables."""
    with path.open("rb") as handle:
        if handle.read(len(_HEADER)) != _HEADER:
            raise BackupError(f"restore: {path} is not a SQLite database")
    try:
        connection = _open(path, _IN_USE_TIMEOUT_S)
        try:
            _check_integrity(connection, f"restore: {path}")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            if not set(OWN_TABLES) <= tables:
                raise BackupError(f"restore: {path} is not a database of this service")
            return _view(connection, path)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restore: cannot read {path}: {exc}") from None


def view(path: Path) -> Snapshot:
    """What the SQLite file at `path` holds."""
    connection = _open(path, _IN_USE_TIMEOUT_S)
    try:
        return _view(connection, path)
    finally:
        connection.close()


def current(target: Path, settings: DatabaseSettings) -> Snapshot | None:
    """The database a restore would replace (None: none, or an empty one); refuses one in use
    and a restore by another user than the database's."""
    _check_owner(target)
    if not target.exists():
        return None
    with _serve_lock(target), _exclusive(target) as connection:
        return _view(connection, target) if _has_tables(connection) else None


def restore(target: Path, source: Path, settings: DatabaseSettings, moment: datetime) -> str | None:
    """Replace the database at `target` with the backup at `source`; returns where the
    database it replaced was kept (`NAME.before-restore-TIMESTAMP`), None if it was empty."""
    kept: Path | None = None
    with _serve_lock(target):
        if not target.exists():
            create_private(target)
        with _exclusive(target) as connection:
            if _has_tables(connection):
                name = f"{target.name}.before-restore-{stamp(moment)}"
                kept = free_name(target.with_name(name))
                with written_into_place(kept) as partial:
                    keeper = sqlite3.connect(partial, isolation_level=None)
                    try:
                        connection.backup(keeper)
                        keeper.execute("PRAGMA journal_mode=DELETE")
                    finally:
                        keeper.close()
            # Out of WAL mode while the pages are replaced (a WAL database cannot take
            # another page size); closing in that mode removes the rollback journal the
            # exclusive lock kept.
            connection.execute("PRAGMA journal_mode=DELETE")
            reader = _open(source, settings.busy_timeout_ms / 1000)
            try:
                reader.backup(connection)
            finally:
                reader.close()
            # The pages brought the backup's own mode (WAL, once a command opened it).
            connection.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(connection, "restore: the restored database")
        back = _open(target, settings.busy_timeout_ms / 1000)
        try:
            back.execute("PRAGMA journal_mode=WAL")  # the service's mode
        finally:
            back.close()
    return str(kept) if kept is not None else None


def _check_owner(target: Path) -> None:
    """A restore by another user (root) would leave files the service cannot open: the
    lock file, a new database, its -wal and -shm."""
    owner = (target if target.exists() else target.parent).stat().st_uid
    if owner == os.geteuid():
        return
    try:
        name = pwd.getpwuid(owner).pw_name
    except KeyError:
        name = str(owner)
    raise BackupError(
        f"restore: {target} belongs to {name}: run the restore as that user "
        f"(sudo -u {name} alerts db restore ...)"
    )


def _copy_consistently(reader: sqlite3.Connection, written: sqlite3.Connection) -> None:
    """SQLite's backup API from `reader` into `written`, as one state of the database."""
    wal = str(reader.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
    if not wal:
        # Outside WAL mode a reader holds writers off: copy in steps with a pause between
        # them instead (a write in between makes SQLite start over: still one state).
        reader.backup(written, pages=STEP_PAGES, sleep=_NON_WAL_PAUSE_S)
        return
    # A WAL read transaction is a snapshot writers never wait for: one across every step,
    # so that no write restarts the copy.
    reader.execute("BEGIN")
    try:
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
        reader.backup(written, pages=STEP_PAGES, sleep=0)
    finally:
        reader.execute("ROLLBACK")


@contextlib.contextmanager
def _serve_lock(target: Path) -> Iterator[None]:
    """The lock `alerts serve` takes, held: refused while it runs, and it cannot start."""
    handle = os.open(f"{target}{SERVE_LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
            raise DatabaseInUse(
                f"restore: `alerts serve` (pid {holder}) is using {target}: stop it first"
            ) from None
        yield
    finally:
        os.close(handle)  # and the lock with it


@contextlib.contextmanager
def _exclusive(target: Path) -> Iterator[sqlite3.Connection]:
    """A connection no other may share while the block runs: SQLite refuses its exclusive
    lock while another process has the database open (a command, or the service)."""
    connection = _open(target, _IN_USE_TIMEOUT_S)
    try:
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            connection.execute("BEGIN EXCLUSIVE")  # held past COMMIT in this mode
            connection.execute("COMMIT")
        except sqlite3.OperationalError:
            raise DatabaseInUse(
                f"restore: another process has {target} open (a command, or the service): "
                "let it finish or stop it first"
            ) from None
        yield connection
    finally:
        connection.close()


def _open(path: Path, timeout: float) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None


def _check_integrity(connection: sqlite3.Connection, what: str) -> None:
    verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise BackupError(f"{what} is damaged: {verdict}")


def _view(connection: sqlite3.Connection, path: Path) -> Snapshot:
    counts = {name: _count(connection, table) for name, table in COUNTED.items()}
    return Snapshot(str(path), path.stat().st_size, _revision(connection), counts)


def _has_tables(connection: sqlite3.Connection) -> bool:
    return int(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]) > 0


def _count(connection: sqlite3.Connection, table: str) -> int:
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return 0  # an older schema without that table


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None
