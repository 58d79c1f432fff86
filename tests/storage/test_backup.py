"""Backups of a live database and restores that keep what they replace: SQLite files with a
writer in another process, and PostgreSQL with the real pg_dump and pg_restore."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from alerts.config import DatabaseSettings, Settings
from alerts.errors import UsageError
from alerts.storage import backup as backups
from alerts.storage import db
from alerts.storage.backup import BackupError, DatabaseInUse
from tests.conftest import PostgresDatabases
from tests.support.paths import REPO
from tests.support.processes import stop_or_kill, wait_until

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REQUIRE_PG_DUMP = os.environ.get("ALERTS_REQUIRE_PG_DUMP") == "1"
PREFILLED = 60_000  # subscribers already there: 7 MB, a copy in several steps
MOMENT = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)

# Another process writing as the service does: each transaction adds a subscriber and its
# suppression together, and prints the time it committed.
_WRITER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import text
    from alerts.config import DatabaseSettings
    from alerts.storage import db

    engine = db.make_engine(DatabaseSettings(url=sys.argv[1]))
    number = 0
    while True:
        number += 1
        phone = f"+1819{number:07d}"
        with db.session_scope(engine) as session:
            session.execute(text(
                "INSERT INTO subscriber (phone, status, lang, topic_snow, topic_radar, source,"
                " created_at, updated_at) VALUES (:p, 'active', 'fr', 1, 1, 'sms',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"p": phone})
            session.execute(text(
                "INSERT INTO suppression (phone, reason, created_at)"
                " VALUES (:p, 'opt_out', CURRENT_TIMESTAMP)"), {"p": phone})
        print(time.time(), flush=True)
    """
)


@contextlib.contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection committed and closed after the block (sqlite3's own only commits)."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def _settings(path: Path) -> DatabaseSettings:
    return DatabaseSettings(url=f"sqlite:///{path}")


def _migrated(path: Path) -> DatabaseSettings:
    """A SQLite database at `path`, at this version's schema, as the service makes it."""
    settings = _settings(path)
    engine = db.make_engine(settings)
    try:
        db.ensure_schema(engine)
    finally:
        engine.dispose()
    return settings


def _add_subscribers(settings: DatabaseSettings, phones: list[str]) -> None:
    engine = db.make_engine(settings)
    try:
        with db.session_scope(engine) as session:
            for phone in phones:
                session.execute(
                    text(
                        "INSERT INTO subscriber (phone, status, lang, topic_snow, topic_radar,"
                        " source, created_at, updated_at) VALUES (:p, 'active', 'fr', true,"
                        " true, 'sms', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"p": phone},
                )
    finally:
        engine.dispose()


def _phones(path: Path) -> set[str]:
    with _sqlite(path) as connection:
        return {row[0] for row in connection.execute("SELECT phone FROM subscriber")}


def _fill(path: Path, count: int) -> None:
    with _sqlite(path) as connection:
        connection.executemany(
            "INSERT INTO subscriber (phone, status, lang, topic_snow, topic_radar, source,"
            " created_at, updated_at) VALUES (?, 'active', 'fr', 1, 1, 'csv',"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            ((f"+1418{n:07d}",) for n in range(count)),
        )


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated SQLite database holding two subscribers."""
    path = tmp_path / "alerts.db"
    _add_subscribers(_migrated(path), ["+14185550101", "+14185550102"])
    return path


# -- SQLite ----------------------------------------------------------------------------------


def test_a_backup_while_another_process_writes_is_one_consistent_state(tmp_path: Path) -> None:
    source = tmp_path / "alerts.db"
    settings = _migrated(source)
    _fill(source, PREFILLED)
    log = tmp_path / "writer.log"
    with log.open("w") as out:
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, settings.url], cwd=REPO, stdout=out, stderr=out
        )
    try:
        assert wait_until(lambda: log.stat().st_size > 0, 30), log.read_text()
        copies = []
        for number in range(3):
            started = time.time()
            copied = backups.backup(settings, tmp_path / f"copy-{number}.db")
            copies.append((copied, started, time.time()))
    finally:
        stop_or_kill(writer, 5)

    commits = [float(line) for line in log.read_text().split()]
    for copied, started, ended in copies:
        path = Path(copied.path)
        with _sqlite(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            people = connection.execute("SELECT count(*) FROM subscriber").fetchone()[0]
            opt_outs = connection.execute("SELECT count(*) FROM suppression").fetchone()[0]
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # Every transaction the copy holds is whole: a subscriber with its suppression.
        assert people - PREFILLED == opt_outs > 0
        assert copied.counts == {"subscribers": people, "suppressions": opt_outs, "alerts": 0}
        assert copied.revision == db.head_revision()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not Path(f"{path}-wal").exists() and not Path(f"{path}-journal").exists()
        # The writer went on committing while the copy was made: it was never held off.
        assert any(started < moment < ended for moment in commits), (started, ended)
    assert len(commits) > max(copied.counts["suppressions"] for copied, _, _ in copies)
    assert not list(tmp_path.glob(".*partial*"))


def test_a_backup_never_overwrites_by_surprise(database: Path, tmp_path: Path) -> None:
    settings = _settings(database)
    target = tmp_path / "copy.db"
    target.write_text("an older backup")
    with pytest.raises(BackupError, match="exists: give another path, or --force"):
        backups.backup(settings, target)
    assert target.read_text() == "an older backup"
    assert backups.backup(settings, target, force=True).counts["subscribers"] == 2
    with pytest.raises(UsageError, match="is the database itself"):
        backups.backup(settings, database, force=True)
    with pytest.raises(BackupError, match="folder does not exist"):
        backups.backup(settings, tmp_path / "nowhere" / "copy.db")


def test_a_folder_gets_a_timestamped_private_copy_whatever_the_umask(
    database: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    previous = os.umask(0)
    try:
        copied = backups.backup(_settings(database), folder, now=MOMENT)
    finally:
        os.umask(previous)
    assert copied.path == str(folder / "alerts-20261203T190000Z.db")
    assert stat.S_IMODE(Path(copied.path).stat().st_mode) == 0o600


def test_a_restore_keeps_the_database_it_replaces(database: Path, tmp_path: Path) -> None:
    settings = _settings(database)
    copy = Path(backups.backup(settings, tmp_path / "copy.db").path)
    _add_subscribers(settings, ["+14185550103"])

    plan = backups.plan_restore(settings, copy)
    assert plan.backup.counts["subscribers"] == 2
    assert plan.current is not None and plan.current.counts["subscribers"] == 3
    report = backups.restore(settings, copy, now=MOMENT)

    assert _phones(database) == {"+14185550101", "+14185550102"}
    kept = tmp_path / "alerts.db.before-restore-20261203T190000Z"
    assert report.kept == str(kept)
    assert _phones(kept) == {"+14185550101", "+14185550102", "+14185550103"}
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    with _sqlite(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not Path(f"{database}-journal").exists()
    # Again: the first kept copy stays, the second gets a name of its own.
    second = backups.restore(settings, copy, now=MOMENT)
    assert second.kept == f"{kept}-2" and _phones(kept) == {
        "+14185550101",
        "+14185550102",
        "+14185550103",
    }


def test_a_restore_is_refused_while_another_process_has_the_database_open(
    database: Path, tmp_path: Path
) -> None:
    settings = _settings(database)
    copy = Path(backups.backup(settings, tmp_path / "copy.db").path)
    _add_subscribers(settings, ["+14185550103"])
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM subscriber')\n"
         "print('open', flush=True); time.sleep(60)", str(database)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(DatabaseInUse, match=r"another process has .* open"):
            backups.restore(settings, copy)
    finally:
        stop_or_kill(holder, 5)
    assert len(_phones(database)) == 3
    assert not list(tmp_path.glob("alerts.db.before-restore-*"))


def test_a_restore_is_run_by_the_database_owner(database: Path, tmp_path: Path) -> None:
    settings = _settings(database)
    copy = Path(backups.backup(settings, tmp_path / "copy.db").path)
    nobody = os.geteuid() + 1
    try:
        os.chown(database, nobody, -1)
    except PermissionError:
        pytest.skip("only root can give the database to another user")
    with pytest.raises(BackupError, match="run the restore as that user"):
        backups.plan_restore(settings, copy)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    os.chown(fresh, nobody, -1)  # a new machine: the service's folder, and no database yet
    with pytest.raises(BackupError, match="belongs to"):
        backups.restore(_settings(fresh / "alerts.db"), copy)
    assert not (fresh / "alerts.db").exists()


def test_a_restore_checks_the_backup_first(database: Path, tmp_path: Path) -> None:
    settings = _settings(database)
    other = tmp_path / "other.db"
    with _sqlite(other) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 10)
    newer = Path(backups.backup(settings, tmp_path / "newer.db").path)
    with _sqlite(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")

    for path, message in [
        (garbage, "is not a SQLite database"),
        (other, "is not a database of this service"),
        (newer, "revision 9999 is newer than this version"),
        (tmp_path / "missing.db", "no such file"),
    ]:
        with pytest.raises(BackupError, match=message):
            backups.plan_restore(settings, path)
    with pytest.raises(UsageError, match="is the database itself"):
        backups.plan_restore(settings, database)
    assert len(_phones(database)) == 2


def test_an_older_backup_is_restored_and_brought_up_to_date(tmp_path: Path) -> None:
    old = tmp_path / "previous-version.db"
    shutil.copy(FIXTURES / "previous-version.db", old)
    target = tmp_path / "fresh" / "alerts.db"  # a new machine: no database yet
    target.parent.mkdir()
    report = backups.restore(_settings(target), old)

    assert report.kept is None
    assert (report.revision_before, report.revision_after) == ("0003", db.head_revision())
    assert report.backup.counts["subscribers"] == 6
    assert len(_phones(target)) == 6
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_tools() -> None:
    """pg_dump and pg_restore: skipped without them unless ALERTS_REQUIRE_PG_DUMP=1."""
    missing = [name for name in ("pg_dump", "pg_restore") if shutil.which(name) is None]
    if missing:
        reason = f"{' and '.join(missing)} not on the PATH (Debian: postgresql-client)"
        if REQUIRE_PG_DUMP:
            pytest.fail(f"ALERTS_REQUIRE_PG_DUMP=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def pg_database(postgres: PostgresDatabases, pg_tools: None) -> Iterator[str]:
    """A migrated PostgreSQL database holding two subscribers."""
    url = postgres.create()
    _add_subscribers(DatabaseSettings(url=url), ["+14185550101", "+14185550102"])
    yield url
    postgres.release(url)


def _pg_phones(url: str) -> set[str]:
    engine = db.make_engine(DatabaseSettings(url=url))
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT phone FROM subscriber")).scalars())
    finally:
        engine.dispose()


def test_pg_dump_backup_restores_into_a_fresh_database(
    pg_database: str, postgres: PostgresDatabases, tmp_path: Path
) -> None:
    copied = backups.backup(DatabaseSettings(url=pg_database), tmp_path)
    dump = Path(copied.path)
    assert dump.name.startswith("alerts-") and dump.suffix == ".dump"
    assert copied.counts == {"subscribers": 2, "suppressions": 0, "alerts": 0}
    assert copied.revision == db.head_revision()
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    fresh = postgres.create_empty()
    try:
        settings = Settings().with_overrides(**{"database.url": fresh}).database
        plan = backups.plan_restore(settings, dump)
        assert plan.current is None and plan.backup.revision == db.head_revision()
        report = backups.restore(settings, dump)
        assert report.kept is None and report.backup.counts["subscribers"] == 2
        assert _pg_phones(fresh) == {"+14185550101", "+14185550102"}
    finally:
        postgres.release(fresh)


def test_a_pg_restore_keeps_a_dump_and_refuses_a_database_in_use(
    pg_database: str, tmp_path: Path
) -> None:
    import psycopg

    settings = DatabaseSettings(url=pg_database)
    dump = Path(backups.backup(settings, tmp_path / "alerts.dump").path)
    _add_subscribers(settings, ["+14185550103"])
    libpq = pg_database.replace("postgresql+psycopg://", "postgresql://")
    # Another session, as a running service holds.
    with psycopg.connect(libpq), pytest.raises(DatabaseInUse, match="1 other session"):
        backups.restore(settings, dump)
    assert len(_pg_phones(pg_database)) == 3

    report = backups.restore(settings, dump, now=MOMENT)
    assert _pg_phones(pg_database) == {"+14185550101", "+14185550102"}
    name = pg_database.rsplit("/", 1)[1]
    assert report.kept == str(tmp_path / f"{name}.before-restore-20261203T190000Z.dump")
    assert backups.plan_restore(settings, Path(report.kept)).backup.revision is not None


def test_a_missing_pg_dump_is_named(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, pathlib\n"
         "from alerts.config import DatabaseSettings\n"
         "from alerts.storage import backup\n"
         "try:\n"
         "    backup.backup(DatabaseSettings(url=sys.argv[1]), pathlib.Path(sys.argv[2]))\n"
         "except backup.BackupError as exc:\n"
         "    print(exc)\n",
         "postgresql+psycopg://alerts:hunter2@127.0.0.1:1/alerts", str(tmp_path / "x.dump")],
        cwd=REPO, env={**os.environ, "PATH": str(tmp_path)}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.stdout.startswith("pg_dump is not on the PATH: install PostgreSQL's client")
    assert "hunter2" not in done.stdout + done.stderr
