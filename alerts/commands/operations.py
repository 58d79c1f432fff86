"""`alerts operations ...` and `alerts schedule ...`: planned operations and the clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from alerts.commands.console_text import plain
from alerts.commands.context import JSON_OPTION, console, id_argument, print_json, services

app = typer.Typer(help="Planned operations: their notices send themselves.", no_args_is_help=True)
schedule_app = typer.Typer(help="The clock: notices to come, sent, missed.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--kind", help="snow or radar."),
    zone: list[str] = typer.Option(None, "--zone", help="A neighbourhood (repeatable)."),
    location: str = typer.Option(None, "--location", help="A place: address, LAT,LON or map link."),
    start: str = typer.Option(..., "--start", help="Local time, e.g. 2026-12-03 19:00."),
    end: str = typer.Option(..., "--end", help="Local time, e.g. 2026-12-04 07:00."),
    notice_before: str = typer.Option(None, "--notice-before", help="e.g. 2h (config default)."),
    reminder_before: str = typer.Option(None, "--reminder-before", help="e.g. 30m, or 0."),
    all_clear: bool = typer.Option(None, "--all-clear/--no-all-clear", help="Text the end."),
    urgent: bool = typer.Option(False, "--urgent", help="Ignore quiet hours; send first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Plan an operation: notice, reminder and all-clear are scheduled from templates."""
    from alerts.clock import operations

    spec = operations.OperationSpec(
        kind=kind, start=start, end=end, zones=tuple(zone or ()), location=location,
        notice_before=notice_before, reminder_before=reminder_before, all_clear=all_clear,
        urgent=urgent,
    )  # fmt: skip
    _show(operations.add_operation(services(ctx), spec), as_json)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Operations with their notices (times in the service's time zone)."""
    from rich.table import Table

    from alerts.clock import operations

    found = operations.list_operations(services(ctx))
    if as_json:
        print_json(found)
        return
    table = Table("id", "kind", "start", "end", "zones", "status", "notices")
    for op in found:
        table.add_row(
            str(op["id"]), op["kind"], op["start"], op["end"], plain(", ".join(op["zones"])),
            op["status"], ", ".join(f"{n['kind']} {n['status']}" for n in op["notices"]),
        )  # fmt: skip
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    operation_id: int = id_argument("The operation's id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One operation and its notices."""
    from alerts.clock import operations

    _show(operations.show_operation(services(ctx), operation_id), as_json)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    operation_id: int = id_argument("The operation's id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel an operation; those already told get an "opération annulée" correction."""
    from alerts.clock import operations

    _show(operations.cancel_operation(services(ctx), operation_id), as_json)


@app.command("move")
def move(
    ctx: typer.Context,
    operation_id: int = id_argument("The operation's id."),
    start: str = typer.Option(..., "--start", help="New local start."),
    end: str = typer.Option(..., "--end", help="New local end."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move an operation; its notices follow, those already told get a correction."""
    from alerts.clock import operations

    _show(operations.move_operation(services(ctx), operation_id, start, end), as_json)


@app.command("import")
def import_(ctx: typer.Context, file: Path, as_json: bool = JSON_OPTION) -> None:
    """Import a plan (.ics with CATEGORIES snow|radar and LOCATION, or CSV); idempotent."""
    from alerts.clock import plan_import

    report = plan_import.import_plan(services(ctx), file)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.added} added, {report.rescheduled} rescheduled, "
        f"{report.unchanged} unchanged, {report.cancelled} cancelled, "
        f"{report.past} skipped as already over."
    )


def _show(operation: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(operation)
        return
    console.print(
        f"Operation {operation['id']} ({operation['kind']}, {operation['status']}): "
        f"{operation['start']} -> {operation['end']}, {plain(', '.join(operation['zones']))}"
    )
    for notice in operation["notices"]:
        console.print(f"  {notice['kind']:<10} {notice['due']}  {notice['status']}")


@schedule_app.command("list")
def schedule_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Notices to come, and those sent, missed or cancelled this week; recurring ones."""
    from rich.table import Table

    from alerts.clock import notices, recurring

    wired = services(ctx)
    found = {"notices": notices.list_notices(wired), "recurring": recurring.list_recurrences(wired)}
    if as_json:
        print_json(found)
        return
    table = Table("id", "kind", "due", "status", "alert", "detail")
    for notice in found["notices"]:
        table.add_row(
            str(notice["id"]), notice["kind"], notice["due"], notice["status"],
            str(notice["alert_id"] or ""), plain(notice["detail"] or ""),
        )  # fmt: skip
    console.print(table)
    for item in found["recurring"]:
        console.print(
            f"recurring {item['id']}: {item['kind']} {item['schedule']} ({item['status']})"
        )


@schedule_app.command("cancel")
def schedule_cancel(
    ctx: typer.Context,
    notice_id: int = id_argument("The notice's (or recurring notice's) id."),
    recurring_schedule: bool = typer.Option(
        False, "--recurring", help="The id is a recurring notice's."
    ),
) -> None:
    """Cancel a scheduled notice (or, with --recurring, a recurring one)."""
    from alerts.clock import notices, recurring

    if recurring_schedule:
        recurring.cancel_recurrence(services(ctx), notice_id)
    else:
        notices.cancel_notice(services(ctx), notice_id)
    console.print(
        f"{'Recurring notice' if recurring_schedule else 'Notice'} {notice_id} cancelled."
    )
