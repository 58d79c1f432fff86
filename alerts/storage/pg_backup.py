"""PostgreSQL backups with pg_dump (custom format) and restores with pg_restore.

The password goes to the tools in PGPASSWORD, never on their command line, and no message
shows it. A backup's counts are read in the very snapshot pg_dump copies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from alerts.storage.snapshots import (
    COUNTED,
    OWN_TABLES,
    BackupError,
    DatabaseInUse,
    Snapshot,
    free_name,
    stamp,
    written_into_place,
)

_ALEMBIC_COPY = re.compile(r"^COPY \S*alembic_version \(version_num\) FROM stdin;$")


def dump(url: URL, target: Path) -> Snapshot:
    """pg_dump the database to `target` (custom format), readable by its owner only."""
    import psycopg

    pg_dump = _tool("pg_dump")
    connection = _connect(url)
    try:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = {name: _count(connection, table) for name, table in COUNTED.items()}
        revision = _revision(connection)
        with written_into_place(target) as partial:
            _run(pg_dump, url, "--format=custom", f"--snapshot={snapshot}", f"--file={partial}")
        connection.rollback()
    finally:
        connection.close()
    return Snapshot(str(target), target.stat().st_size, revision, counts)


def inspect(path: Path) -> Snapshot:
    """The archive at `path`, checked: pg_dump's custom format, holding this service's
    tables; its schema revision."""
    pg_restore = _tool("pg_restore")
    listing = subprocess.run(
        [pg_restore, "--list", str(path)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"restore: {path} is not a pg_dump archive (custom format)")
    tables = {
        line.split()[-2]
        for line in listing.stdout.splitlines()
        if not line.startswith(";") and " TABLE DATA " in line
    }
    if not set(OWN_TABLES) <= tables:
        raise BackupError(f"restore: {path} is not a dump of this service's database")
    script = subprocess.run(
        [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return Snapshot(str(path), path.stat().st_size, _copied_revision(script.stdout))


def current(url: URL, *, alone: bool = True) -> Snapshot | None:
    """What the database holds (None: no table); with `alone`, refuses it while another
    session is connected to it."""
    connection = _connect(url)
    try:
        others = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        if alone and others:
            raise DatabaseInUse(
                f"restore: {others} other session(s) connected to {where(url)}: stop every "
                "`alerts serve` and command using it first"
            )
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()[0]
        if not tables:
            return None
        counts = {name: _count(connection, table) for name, table in COUNTED.items()}
        revision = _revision(connection)
        connection.rollback()
    finally:
        connection.close()
    return Snapshot(where(url), 0, revision, counts)


def restore(url: URL, source: Path, keep: bool, moment: datetime) -> str | None:
    """pg_restore the archive at `source` into the database, in one transaction; with
    `keep`, dump the database first, beside the archive. Returns that dump's path."""
    pg_restore = _tool("pg_restore")
    kept = None
    if keep:
        name = f"{url.database}.before-restore-{stamp(moment)}.dump"
        kept = dump(url, free_name(source.resolve().parent / name)).path
    _run(pg_restore, url, "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--exit-on-error", str(source))  # fmt: skip
    return kept


def where(url: URL) -> str:
    """The URL with its password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on the PATH: install PostgreSQL's client tools (Debian: "
            "postgresql-client, of the server's major version or newer)"
        )
    return found


def _conninfo(url: URL) -> str:
    """The URL as libpq reads it, without its password."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _connect(url: URL) -> Any:
    import psycopg

    password: dict[str, Any] = {} if url.password is None else {"password": str(url.password)}
    try:
        return psycopg.connect(_conninfo(url), connect_timeout=5, **password)
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BackupError(f"database: cannot use {where(url)}: {reason}") from None


def _run(tool: str, url: URL, *args: str) -> None:
    """Run pg_dump or pg_restore on the database; its first error line, if it fails."""
    # The tool gets this process's environment (PGSSLROOTCERT...), plus the password.
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(
        [tool, *args, f"--dbname={_conninfo(url)}"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        name = Path(tool).name
        lines = [line for line in done.stderr.splitlines() if line.strip()] or ["no message"]
        reason = lines[0].removeprefix(f"{name}: ")
        if url.password:
            reason = reason.replace(str(url.password), "***")
        raise BackupError(f"{name} failed: {reason}")


def _count(connection: Any, table: str) -> int:
    import psycopg

    try:
        with connection.transaction():  # a savepoint: a missing table spoils nothing else
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except psycopg.errors.UndefinedTable:
        return 0  # an older schema without that table


def _revision(connection: Any) -> str | None:
    import psycopg

    try:
        with connection.transaction():
            rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except psycopg.errors.UndefinedTable:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _copied_revision(script: str) -> str | None:
    """The revision in the COPY block of pg_restore's script of alembic_version."""
    lines = iter(script.splitlines())
    for line in lines:
        if _ALEMBIC_COPY.match(line):
            first = next(lines, "\\.")
            return None if first == "\\." else first.strip()
    return None
