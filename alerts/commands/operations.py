"""`alerts operations ...` and `alerts schedule ...`: planned operations and the clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from alerts.commands.clock_warning import warn_if_no_scheduler
from alerts.commands.console_text import plain, wrapped_lines
from alerts.commands.context import (
    JSON_OPTION,
    console,
    id_argument,
    print_json,
    services,
    state,
)

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
    """Plan an operation: notice, reminder and all-clear are scheduled from templates.

    Prints what each notice will say in French and English, its segments, the recipients
    reached now and the cost, as the send preview does.
    """
    from alerts.clock import operations
    from alerts.clock.operation_preview import with_preview

    spec = operations.OperationSpec(
        kind=kind, start=start, end=end, zones=tuple(zone or ()), location=location,
        notice_before=notice_before, reminder_before=reminder_before, all_clear=all_clear,
        urgent=urgent,
    )  # fmt: skip
    wired = services(ctx)
    _show(with_preview(wired, operations.add_operation(wired, spec)), as_json, ctx)
    warn_if_no_scheduler(wired)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Operations with their notices (times local, in the operator's language)."""
    from alerts.clock import operations
    from alerts.commands.tables import Column, print_table

    found = operations.list_operations(services(ctx))
    if as_json:
        print_json(found)
        return
    cli = state(ctx)
    columns = (
        Column("id", justify="right"),
        Column("kind"),
        Column("start"),
        Column("end"),
        Column("zones", wrap=True, min_width=16, below=True),
        Column("status"),
        Column("notices", wrap=True, min_width=24, below=True),
    )
    rows = [
        (
            op["id"], op["kind"], cli.human_time(op["start"]), cli.human_time(op["end"]),
            ", ".join(op["zones"]), op["status"],
            ", ".join(f"{n['kind']} {n['status']}" for n in op["notices"]),
        )
        for op in found
    ]  # fmt: skip
    print_table(columns, rows)


@app.command("show")
def show(
    ctx: typer.Context,
    operation_id: int = id_argument("The operation's id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One operation and its notices, with the texts, recipients and cost of those to come."""
    from alerts.clock import operations
    from alerts.clock.operation_preview import with_preview

    wired = services(ctx)
    _show(with_preview(wired, operations.show_operation(wired, operation_id)), as_json, ctx)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    operation_id: int = id_argument("The operation's id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel an operation; those already told get an "opération annulée" correction.

    Cancelling it again changes nothing and says so (exit 0).
    """
    from alerts.clock import operations

    cancelled = operations.cancel_operation(services(ctx), operation_id)
    if cancelled["already_cancelled"] and not as_json:
        console.print(f"Operation {operation_id} is already cancelled.")
        return
    _show(cancelled, as_json, ctx)


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

    _show(operations.move_operation(services(ctx), operation_id, start, end), as_json, ctx)


@app.command("import")
def import_(ctx: typer.Context, file: Path, as_json: bool = JSON_OPTION) -> None:
    """Import a plan (.ics with CATEGORIES snow|radar and LOCATION, or CSV); idempotent."""
    from alerts.clock import plan_import
    from alerts.commands.progress import step_progress

    with step_progress("operations", quiet=as_json) as progress:
        report = plan_import.import_plan(services(ctx), file, progress=progress)
    warn_if_no_scheduler(services(ctx))
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.added} added, {report.rescheduled} rescheduled, "
        f"{report.unchanged} unchanged, {report.cancelled} cancelled, "
        f"{report.past} skipped as already over."
    )


def _show(operation: dict[str, Any], as_json: bool, ctx: typer.Context) -> None:
    """An operation and its notices, times local in the operator's language; with its
    preview (with_preview), what the notices to come will say, to whom, at what cost."""
    from alerts.core.composition import LANGS

    if as_json:
        print_json(operation)
        return
    width = console.width
    when = state(ctx).human_time

    console.print(
        f"[bold]Operation {operation['id']}[/bold] ({operation['kind']}, {operation['status']}): "
        f"{when(operation['start'])} -> {when(operation['end'])}"
    )
    _print_wrapped(", ".join(operation["zones"]), "  zones: ", "         ", width)
    if operation.get("location"):
        _print_wrapped(operation["location"], "  place: ", "         ", width)
    if operation.get("recipients") is not None:
        by_lang = ", ".join(f"{code} {count}" for code, count in operation["by_lang"].items())
        console.print(f"  recipients now: {operation['recipients']} ({by_lang})")
    due = {notice["id"]: when(notice["due"]) for notice in operation["notices"]}
    pad = max(map(len, due.values()), default=0)
    for notice in operation["notices"]:
        detail = f" ({notice['detail']})" if notice.get("detail") else ""
        _print_wrapped(
            f"{notice['kind']:<10} {due[notice['id']]:<{pad}}  {notice['status']}{detail}",
            "  ", "    ", width,
        )  # fmt: skip
        if notice.get("text") is None:
            continue
        for code in LANGS:
            segments = notice["segments"][code]
            label = f"    {code} ({notice['encoding'][code]}, {_plural(segments, 'segment')}): "
            _print_wrapped(notice["text"][code], label, "      ", width)
        if notice["replaced"]:
            replaced = ", ".join(f"{a}->{b or '(dropped)'}" for a, b in notice["replaced"].items())
            _print_wrapped(replaced, "    replaced for GSM-7: ", "      ", width)
        console.print(
            f"    {_plural(notice['recipients'], 'recipient')}, "
            f"{_plural(notice['total_segments'], 'segment')}, "
            f"about {notice['estimated_cost']:.2f} {plain(operation['currency'])}"
        )
    if operation.get("preview_error"):
        _print_wrapped(operation["preview_error"], "  texts unavailable: ", "    ", width)
    elif "total_segments" in operation:
        if any(notice.get("text") is not None for notice in operation["notices"]):
            console.print(
                f"  to come: {_plural(operation['total_segments'], 'segment')}, about "
                f"{operation['estimated_cost']:.2f} {plain(operation['currency'])}"
            )
        else:
            console.print("  nothing left to send")


def _print_wrapped(text: str, first: str, rest: str, width: int) -> None:
    for line in wrapped_lines(text, first, rest, width):
        console.print(plain(line))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@schedule_app.command("list")
def schedule_list(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Notices to come, and those sent, missed or cancelled this week; recurring ones (times
    local, in the operator's language)."""
    from alerts.clock import notices, recurring
    from alerts.commands.tables import Column, print_table

    wired = services(ctx)
    found = {"notices": notices.list_notices(wired), "recurring": recurring.list_recurrences(wired)}
    warn_if_no_scheduler(wired)  # on stderr, --json or not
    if as_json:
        print_json(found)
        return
    cli = state(ctx)
    columns = (
        Column("id", justify="right"),
        Column("kind"),
        Column("due"),
        Column("status"),
        Column("alert", justify="right"),
        Column("detail", wrap=True, min_width=24, below=True),
    )
    rows = [
        (
            notice["id"], notice["kind"], cli.human_time(notice["due"]), notice["status"],
            notice["alert_id"], notice["detail"],
        )
        for notice in found["notices"]
    ]  # fmt: skip
    print_table(columns, rows)
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
