"""`alerts db ...`: the database schema."""

from __future__ import annotations

import typer

from alerts.commands.clock_warning import warn_if_no_scheduler
from alerts.commands.context import JSON_OPTION, console, print_json, services, state

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


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
