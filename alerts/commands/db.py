"""`alerts db ...`: the database schema, backups and restores."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from alerts.commands.clock_warning import warn_if_no_scheduler
from alerts.commands.console_text import plain
from alerts.commands.context import JSON_OPTION, console, print_json, services, state
from alerts.errors import UsageError

if TYPE_CHECKING:
    from alerts.storage.backup import RestorePlan

app = typer.Typer(
    help="Database schema (Alembic migrations), backups and restores.", no_args_is_help=True
)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Bring the database schema to the newest revision."""
    from alerts.storage import db

    settings = state(ctx).settings
    engine = db.make_engine(settings.database)
    try:
        before, after = db.upgrade(engine)
    finally:
        engine.dispose()
    if as_json:
        print_json({"database": settings.database.redacted_url(), "from": before, "to": after})
    elif before == after:
        console.print(f"Schema already at revision {after}.")
    else:
        console.print(f"Schema upgraded from {before or 'empty'} to {after}.")


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the schema revision of the database and the one this version needs."""
    from alerts.storage import db

    settings = state(ctx).settings
    engine = db.make_engine(settings.database)
    try:
        current = db.current_revision(engine)
    finally:
        engine.dispose()
    head = db.head_revision()
    if as_json:
        print_json({"database": settings.database.redacted_url(), "current": current, "head": head})
    else:
        console.print(
            f"{settings.database.redacted_url()}: revision {current or 'none'} (needs {head})"
        )
    if current == head:  # the heartbeats are readable only on an up-to-date schema
        warn_if_no_scheduler(services(ctx))


@app.command("backup")
def backup(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The copy to write, or a folder to put it in."),
    force: bool = typer.Option(False, "--force", help="Replace PATH if it exists."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Copy the database while the service runs (SQLite's backup API, or pg_dump)."""
    from alerts.storage import backup as backups

    settings = state(ctx).settings
    copied = backups.backup(settings.database, path, force=force)
    if as_json:
        print_json({"database": settings.database.redacted_url(), **copied.as_dict()})
    else:
        console.print(
            f"{plain(copied.path)}: {copied.size_bytes:,} bytes, {plain(copied.describe())}."
        )


@app.command("restore")
def restore(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A copy made by `alerts db backup`."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace the database with a backup, keeping the current one; the service must be
    stopped."""
    from alerts.storage import backup as backups

    settings = state(ctx).settings
    plan = backups.plan_restore(settings.database, path)
    if not yes:
        _agree_to_replace(settings.database.redacted_url(), plan)
    report = backups.restore(settings.database, path)
    if as_json:
        print_json({"database": settings.database.redacted_url(), **report.as_dict()})
        return
    console.print(f"Restored {plain(report.backup.describe())} from {plain(path)}.")
    if report.kept is not None:
        console.print(f"The database it replaced is kept in {plain(report.kept)}.")
    if report.revision_before != report.revision_after:
        console.print(f"Schema upgraded from {report.revision_before} to {report.revision_after}.")


def _agree_to_replace(database: str, plan: RestorePlan) -> None:
    """Ask before replacing a database; without a terminal, refuse."""
    now = plan.current.describe() if plan.current is not None else "empty"
    question = f"Replace {database} ({now}) with {plan.backup.path} ({plan.backup.describe()})?"
    if not _interactive():
        raise UsageError(f"restore: {question} Confirm with --yes")
    typer.confirm(question, abort=True, err=True)


def _interactive() -> bool:
    """Whether someone at a terminal can answer a question (stdin is a terminal)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # stdin closed
        return False
