"""Storage: migrations, engine tuning and constraints, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import SQLModel, select

from alerts.config import DatabaseSettings
from alerts.errors import DatabaseError
from alerts.storage import db
from alerts.storage.models import Alert, Delivery, Subscriber
from alerts.wiring import Services

EXPECTED_TABLES = {
    "address",
    "alert",
    "delivery",
    "inbound_message",
    "meta",
    "rate_bucket",
    "status_event",
    "subscriber",
    "subscription",
    "suppression",
    "zone",
    "zone_layer",
    "operation",
    "recurrence",
    "notice",
    "scheduler_job",
}


def test_first_use_migrates_to_head(services: Services) -> None:
    assert db.current_revision(services.engine) == db.head_revision()
    assert set(inspect(services.engine).get_table_names()) >= EXPECTED_TABLES


def test_the_quick_revision_check_agrees_with_alembic(services: Services) -> None:
    # Commands skip Alembic when the database is at the newest migration file's revision.
    assert db.newest_revision() == db.head_revision()
    with services.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    with pytest.raises(DatabaseError, match="run `alerts db upgrade`"):
        db.ensure_schema(services.engine)


def test_migrations_match_the_models(services: Services) -> None:
    with services.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrade_is_idempotent(services: Services) -> None:
    before, after = db.upgrade(services.engine)
    assert before == after == db.head_revision()


def test_datetimes_come_back_aware_in_utc(services: Services) -> None:
    eastern = timezone(timedelta(hours=-5))
    stamp = datetime(2026, 12, 3, 19, 0, tzinfo=eastern)
    with services.session() as session:
        session.add(Subscriber(phone="+14185550123", created_at=stamp, updated_at=stamp))
    with services.session(read_only=True) as session:
        stored = session.exec(select(Subscriber)).one()
    assert stored.created_at == stamp
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(services: Services) -> None:
    with pytest.raises(Exception, match="naive datetime"), services.session() as session:
        session.add(Subscriber(phone="+14185550123", created_at=datetime(2026, 1, 1)))
        session.flush()


def test_one_delivery_per_alert_and_subscriber(services: Services) -> None:
    with services.session() as session:
        subscriber = Subscriber(phone="+14185550123")
        alert = Alert(kind="snow", body_fr="x", body_en="x")
        session.add_all([subscriber, alert])
        session.flush()
        session.add(Delivery(alert_id=alert.id, subscriber_id=subscriber.id))
    with pytest.raises(IntegrityError), services.session() as session:
        session.add(Delivery(alert_id=alert.id, subscriber_id=subscriber.id))


def test_one_subscriber_per_phone(services: Services) -> None:
    with services.session() as session:
        session.add(Subscriber(phone="+14185550123"))
    with pytest.raises(IntegrityError), services.session() as session:
        session.add(Subscriber(phone="+14185550123"))


def test_a_failed_transaction_changes_nothing(services: Services) -> None:
    with pytest.raises(RuntimeError), services.session() as session:
        session.add(Subscriber(phone="+14185550123"))
        session.flush()
        raise RuntimeError("boom")
    with services.session(read_only=True) as session:
        assert session.exec(select(Subscriber)).all() == []


def test_sqlite_is_tuned_for_concurrency(tmp_path: Path) -> None:
    engine = db.make_engine(
        DatabaseSettings(url=f"sqlite:///{tmp_path / 'a.db'}", busy_timeout_ms=1234)
    )
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_sqlite_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="folder does not exist"):
        db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'nope' / 'a.db'}"))


def test_foreign_tables_are_not_adopted(tmp_path: Path) -> None:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'a.db'}"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE payroll (id INTEGER)"))
    with pytest.raises(DatabaseError, match="did not create"):
        db.ensure_schema(engine)
    assert set(inspect(engine).get_table_names()) == {"payroll"}
    engine.dispose()


def test_a_newer_schema_is_refused(services: Services) -> None:
    with services.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(DatabaseError, match="newer than this version"):
        db.ensure_schema(services.engine)


def test_unreachable_postgres_is_one_line() -> None:
    engine = db.make_engine(DatabaseSettings(url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with pytest.raises(DatabaseError) as caught:
        db.ensure_schema(engine)
    assert "cannot use" in str(caught.value) and "\n" not in str(caught.value)


def test_concurrent_first_use_on_postgres_migrates_once(postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.create_empty()
    errors: list[BaseException] = []

    def first_use() -> None:
        engine = db.make_engine(DatabaseSettings(url=url))
        try:
            db.upgrade(engine)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=first_use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = db.make_engine(DatabaseSettings(url=url))
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_utc_now_is_aware() -> None:
    from alerts.storage.models import utcnow

    assert utcnow().tzinfo is UTC


def test_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    previous = os.umask(0o022)  # the usual umask, which leaves new files world-readable
    try:
        engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
        db.ensure_schema(engine)
        with db.session_scope(engine) as session:
            session.add(Subscriber(phone="+14185550123"))
        # Hold a connection open: SQLite removes -wal and -shm when the last one closes.
        with engine.connect() as connection:
            connection.execute(text("SELECT count(*) FROM subscriber")).scalar()
            modes = {
                suffix: stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode)
                for suffix in ("", "-wal", "-shm")
            }
        engine.dispose()
    finally:
        os.umask(previous)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


def test_an_existing_sqlite_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch()
    path.chmod(0o640)  # the operator's choice (a backup group, say)
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    db.ensure_schema(engine)
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_database_errors_never_show_the_values(services: Services) -> None:
    phone, body = "+14185550199", "mon adresse secrète 123 rue Privée"
    with services.session() as session:
        session.add(Subscriber(phone=phone))
    failures: list[BaseException] = []
    # A unique key (PostgreSQL echoes the key in DETAIL), a missing value (the failing row),
    # and a value of the wrong type (quoted in the message, and again in CONTEXT).
    statements = [
        ("INSERT INTO subscriber (phone, status, lang, topic_snow, topic_radar, source, "
         "created_at, updated_at) VALUES (:v, 'active', 'fr', true, true, 'x', "
         "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", {"v": phone}),
        ("INSERT INTO inbound_message (message_sid, from_phone, body) VALUES (NULL, :p, :v)",
         {"p": phone, "v": body}),
    ]  # fmt: skip
    if services.engine.dialect.name == "postgresql":  # SQLite casts anything without complaint
        statements.append(("SELECT CAST(:v AS INTEGER) + 1", {"v": phone}))
    for sql, values in statements:
        with pytest.raises(DBAPIError) as caught, services.engine.begin() as connection:
            connection.execute(text(sql), values)
        failures.append(caught.value)
    for failure in failures:
        shown = f"{failure}\n{failure!r}\n{getattr(failure, 'orig', '')}"
        assert "SQL parameters hidden" in str(failure)
        for secret in (phone, phone[1:], body, "secrète"):
            assert secret not in shown, shown
    # The errors still say what went wrong, and keep their class for the code that catches.
    assert isinstance(failures[0], IntegrityError)
    assert "unique" in str(failures[0]).lower()
