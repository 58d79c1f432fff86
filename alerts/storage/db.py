"""Engines, sessions and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import (
    Connection,
    CursorResult,
    Engine,
    ExceptionContext,
    Result,
    make_url,
)
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from alerts.config import DatabaseSettings
from alerts.errors import DatabaseError

# Alembic loads only when a schema must be read in detail or changed, not on every command.
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant shared by every process of the service: the key of the migration lock.
_MIGRATION_LOCK_KEY = 0x616C6572  # "aler"
# The database holds phone numbers and texts: only the service's own user may read it.
SQLITE_FILE_MODE = 0o600


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def make_engine(settings: DatabaseSettings) -> Engine:
    """An engine for the configured database, tuned for concurrent short transactions."""
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings, url.database or "")
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"connect_timeout": 5},
        # A failing statement's error names the statement, never its values (phone numbers,
        # texts): errors end up in logs.
        hide_parameters=True,
    )
    if engine.dialect.name == "postgresql":
        event.listen(engine, "handle_error", _without_values)
    return engine


# A double-quoted run in a data error's message is the offending value, e.g.
# 'value "+14185550123" is out of range for type integer'.
_QUOTED = re.compile(r'"[^"]*"')


def _without_values(context: ExceptionContext) -> None:
    """Keep PostgreSQL's values out of its error messages.

    hide_parameters keeps SQLAlchemy from printing the parameters, but the server itself
    echoes them: `DETAIL: Key (phone)=(+1...) already exists`, `Failing row contains (...)`,
    `CONTEXT: ... parameter $1 = '...'`, and in data errors (SQLSTATE class 22) the value
    quoted in the message. Only the primary message stays, with a data error's quoted value
    blanked; the driver's `diag` keeps every field for code that needs them.
    """
    orig = context.original_exception
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not isinstance(primary, str):
        return
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate.startswith("22"):
        primary = _QUOTED.sub('"…"', primary)
    orig.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        kind = type(orig)
        wrapped.args = (f"({kind.__module__}.{kind.__name__}) {primary}", *wrapped.args[1:])


def _sqlite_engine(settings: DatabaseSettings, database: str) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser().resolve()
        if not path.parent.is_dir():
            raise DatabaseError(f"database: folder does not exist: {path.parent}")
        _create_private(path)
    engine = create_engine(
        settings.url,
        connect_args={"timeout": settings.busy_timeout_ms / 1000, "check_same_thread": False},
        hide_parameters=True,
    )
    busy_ms = settings.busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a transaction that reads then writes
        # waits for the busy timeout instead of failing with "database is locked".
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _create_private(path: Path) -> None:
    """Create an absent SQLite file readable by its owner only (whatever the umask).

    SQLite gives the `-wal` and `-shm` files it creates the mode of the database file, so
    they are private too. An existing file keeps the mode its owner gave it.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except FileExistsError:
        return  # there already, or another process created it first
    except OSError as exc:
        raise DatabaseError(f"database: cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(descriptor, SQLITE_FILE_MODE)  # the umask may have narrowed it further
    finally:
        os.close(descriptor)


_writer_locks: dict[int, threading.RLock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock:
    # SQLite has one writer at a time. Queueing this process's writers on a mutex keeps them
    # out of SQLite's busy handler, whose growing sleeps would wreck latency under load.
    with _writer_locks_guard:
        return _writer_locks.setdefault(id(engine), threading.RLock())


@contextlib.contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    bind: Engine | Connection = engine
    with contextlib.ExitStack() as stack:
        if engine.dialect.name == "sqlite":
            if read_only:
                connection = engine.connect().execution_options(sqlite_begin="DEFERRED")
                bind = stack.enter_context(connection)
            else:
                stack.enter_context(_writer_lock(engine))
        from sqlmodel import Session

        session = stack.enter_context(Session(bind, expire_on_commit=False))
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE, DELETE or INSERT statement matched.

    Session.execute types every result as a plain Result; a DML statement's is a
    CursorResult, which alone has `rowcount`.
    """
    return cast("CursorResult[Any]", result).rowcount


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of the service knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    with _connect(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with _connect(engine) as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting on an empty database must not both migrate it.
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            connection.commit()
        try:
            before = MigrationContext.configure(connection).get_current_revision()
            _check_known(before)
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                )
                connection.commit()
    return before, head_revision()


def ensure_schema(engine: Engine) -> None:
    """Migrate an empty database on first use; refuse one at another revision."""
    if _stored_revision(engine) == newest_revision():
        return  # the common case, answered without loading Alembic
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        with _connect(engine) as connection:
            tables = set(inspect(connection).get_table_names())
        if tables:
            raise DatabaseError(
                f"database: {_where(engine)} holds tables this service did not create "
                f"({', '.join(sorted(tables)[:3])}...); use an empty database"
            )
        upgrade(engine)
        return
    _check_known(current)
    raise DatabaseError(
        f"database: schema is at revision {current}, this version needs {head}; "
        "run `alerts db upgrade`"
    )


def newest_revision() -> str:
    """The newest revision by the migrations' file names (`0006_...py` is revision 0006),
    read without Alembic; a test holds it equal to Alembic's head."""
    names = sorted(
        path.name for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )
    return names[-1][:4] if names else ""


def _stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, or None when it cannot be read that simply."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except (DBAPIError, OperationalError):
        return None  # no such table yet, or no server: the thorough path says which
    return str(found[0][0]) if len(found) == 1 else None


def _check_known(revision: str | None) -> None:
    from alembic.script import ScriptDirectory

    if revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    if revision not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseError(
            f"database: schema revision {revision} is newer than this version of the service"
        )


@contextlib.contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    try:
        with engine.connect() as connection:
            yield connection
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise DatabaseError(f"database: cannot use {_where(engine)}: {reason}") from None
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database: {_where(engine)}: {type(exc).__name__}") from None


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
