"""Backups of the database while the service runs, and restoring one.

`alerts db backup` copies a live database consistently: SQLite's backup API on SQLite
(alerts.storage.sqlite_backup), pg_dump on PostgreSQL (alerts.storage.pg_backup). A restore
checks the backup first (a database of this service, at a schema revision this version
knows), refuses a database in use, keeps the database it replaces beside it (nothing stored
is ever lost), then brings the restored schema up to this version's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from alerts.config import DatabaseSettings
from alerts.errors import UsageError
from alerts.storage import db, pg_backup, sqlite_backup
from alerts.storage.snapshots import BackupError, DatabaseInUse, Snapshot, stamp

__all__ = ["BackupError", "DatabaseInUse", "RestorePlan", "RestoreReport", "Snapshot",
           "backup", "plan_restore", "restore"]  # fmt: skip


@dataclass(frozen=True)
class RestorePlan:
    """What a restore would do: the backup it reads and the database it replaces."""

    backup: Snapshot
    current: Snapshot | None  # None: no database there yet, or an empty one


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    backup: Snapshot
    kept: str | None  # where the database it replaced was kept
    revision_before: str | None  # the backup's schema revision
    revision_after: str  # this version's, to which it was brought

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {"restored": self.backup.as_dict(), "kept": self.kept,
                "from": self.revision_before, "to": self.revision_after}  # fmt: skip


def backup(
    settings: DatabaseSettings, target: Path, *, force: bool = False, now: datetime | None = None
) -> Snapshot:
    """Copy the database to `target` (a file, or a folder to put `alerts-TIMESTAMP.db` or
    `.dump` in) while the service runs; an existing file is replaced only with `force`."""
    moment = now or datetime.now(UTC)
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_file(url)
        file = _destination(target, source, ".db", force, moment)
        return sqlite_backup.copy(source, file, settings)
    return pg_backup.dump(url, _destination(target, None, ".dump", force, moment))


def plan_restore(settings: DatabaseSettings, source: Path) -> RestorePlan:
    """Check that `source` is a backup this version can restore and that the database is
    not in use; says what the restore would replace. Changes nothing."""
    if not source.is_file():
        raise BackupError(f"restore: no such file: {source}")
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        target = _sqlite_file(url)
        if target.exists() and source.samefile(target):
            raise UsageError(f"restore: {source} is the database itself")
        found = sqlite_backup.inspect(source)
        _check_known(found.revision)
        return RestorePlan(found, sqlite_backup.current(target, settings))
    found = pg_backup.inspect(source)
    _check_known(found.revision)
    now = pg_backup.current(url)
    if now is not None:
        _check_not_older(found.revision, now.revision)
    return RestorePlan(found, now)


def restore(
    settings: DatabaseSettings, source: Path, *, now: datetime | None = None
) -> RestoreReport:
    """Replace the database with the backup at `source`, keeping the current one beside it
    (SQLite) or beside the backup (a PostgreSQL dump), then migrate it to this version."""
    moment = now or datetime.now(UTC)
    plan = plan_restore(settings, source)  # again: things may have changed since
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        kept = sqlite_backup.restore(_sqlite_file(url), source, settings, moment)
    else:
        kept = pg_backup.restore(url, source, plan.current is not None, moment)
    engine = db.make_engine(settings)
    try:
        _, after = db.upgrade(engine)
    finally:
        engine.dispose()
    restored = plan.backup
    if not restored.counts:  # an archive's counts are read once it is in the database
        found = pg_backup.current(url, alone=False)
        restored = replace(restored, counts=found.counts if found is not None else {})
    return RestoreReport(restored, kept, plan.backup.revision, after)


def _sqlite_file(url: URL) -> Path:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise UsageError("database: only a SQLite file (sqlite:///PATH) has backups")
    return Path(database).expanduser()


def _destination(
    target: Path, source: Path | None, suffix: str, force: bool, moment: datetime
) -> Path:
    """The file to write: `target`, or a timestamped file in the folder `target`."""
    if target.is_dir():
        target = target / f"alerts-{stamp(moment)}{suffix}"
    if not target.parent.is_dir():
        raise BackupError(f"backup: folder does not exist: {target.parent}")
    if target.exists():
        if source is not None and source.exists() and target.samefile(source):
            raise UsageError(f"backup: {target} is the database itself")
        if not force:
            raise BackupError(f"backup: {target} exists: give another path, or --force")
    return target


def _revision_order() -> list[str]:
    """Every schema revision this version knows, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _check_known(revision: str | None) -> None:
    if revision is None:
        raise BackupError("restore: the backup has no schema revision (alembic_version)")
    if revision not in _revision_order():
        raise BackupError(
            f"restore: the backup's schema revision {revision} is newer than this version "
            "of the service: upgrade the service first"
        )


def _check_not_older(backup_revision: str | None, current_revision: str | None) -> None:
    """PostgreSQL: pg_restore recreates the backup's tables only, so an older backup over a
    newer database would leave the newer tables behind, and the upgrade would trip on them."""
    order = _revision_order()
    if backup_revision not in order or current_revision not in order:
        return
    if order.index(backup_revision) < order.index(current_revision):
        raise BackupError(
            f"restore: the backup is at schema {backup_revision} and the database at "
            f"{current_revision}: restore it into an empty database (createdb NAME), "
            "which it then brings up to date"
        )
