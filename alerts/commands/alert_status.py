"""`alerts status | history`: how an alert is going, and the latest alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from alerts.commands.console_text import plain
from alerts.commands.context import (
    JSON_OPTION,
    console,
    id_argument,
    print_json,
    services,
    state,
)
from alerts.errors import UsageError

if TYPE_CHECKING:
    from alerts.wiring import Services

MAX_HISTORY = 100_000


def status(
    ctx: typer.Context,
    alert_id: int = id_argument("The alert's id."),
    deliveries: bool = typer.Option(
        False, "--deliveries", help="A CSV on stdout: one row per recipient, phones masked."
    ),
    include_phones: bool = typer.Option(
        False, "--include-phones", help="With --deliveries: whole numbers (personal data)."
    ),
    follow: bool = typer.Option(
        False, "--follow", help="Draw the progress live until the alert is over (Ctrl-C stops)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """An alert's progress: deliveries by state, by zone and by error code, and who sent it."""
    from alerts.sending import alert_reports

    if follow and deliveries:
        raise UsageError("--follow does not go with --deliveries")
    if follow:  # on stderr; then the final status, as without --follow
        from alerts.commands.follow import follow_alert

        follow_alert(services(ctx), alert_id)
    if deliveries:
        _print_deliveries(services(ctx), alert_id, include_phones, as_json)
        return
    if include_phones:
        raise UsageError("--include-phones goes with --deliveries")
    shown = alert_reports.alert_status(services(ctx), alert_id)
    if as_json:
        print_json(shown)
        return
    console.print(
        f"[bold]alert {shown['alert_id']}[/bold] {shown['kind']}  {shown['state']}  "
        f"{shown['recipients']} recipient(s)  created {state(ctx).human_time(shown['created_at'])}"
    )
    console.print(f"  sent by {plain(_sender(shown))}")
    if shown["error"]:
        console.print(f"[red]{plain(shown['error'])}[/red]")
    counts = "  ".join(f"{name} {count}" for name, count in shown["deliveries"].items() if count)
    console.print(f"  {counts or 'no deliveries'}")
    _print_zones(shown)
    if shown["errors"]:
        errors = ", ".join(f"{plain(code)} x{count}" for code, count in shown["errors"].items())
        console.print(f"  errors: {errors}")
    rate = shown["rate"]
    if shown["state"] == "sending" or rate["recent_messages_per_second"]:
        unit = "seg" if rate["unit"] == "segments" else "msg"
        console.print(
            f"  sending at {rate['recent_messages_per_second']:.1f} msg/s "
            f"({rate['recent_segments_per_second']:.1f} seg/s) over the last 10 s; "
            f"configured {rate['configured']:g} {unit}/s"
        )
    elif rate["average_messages_per_second"]:
        console.print(f"  sent at {rate['average_messages_per_second']:.1f} msg/s on average")
    if shown["uncertain"]:
        console.print(f"  {shown['uncertain']} sent again after a lost answer (maybe twice)")
    for reason, count in shown["unknown_reasons"].items():
        console.print(f"  {count} unknown: {plain(reason)}")


# The delivery states as short headers, for the per-zone table of a narrow terminal.
_STATE_HEADERS = {"delivered": "deliv.", "undelivered": "undeliv.", "cancelled": "canc."}


def _print_zones(shown: dict[str, Any]) -> None:
    """The deliveries of each zone by state, as a table fitted to the terminal."""
    from alerts.commands.tables import Column, print_table

    by_zone = shown["by_zone"]
    present = {name for states in by_zone.values() for name in states}
    names = [name for name in shown["deliveries"] if name in present]
    names += sorted(present - set(names))
    columns = [Column("zone", wrap=True)]
    columns += [Column(n, short=_STATE_HEADERS.get(n, ""), justify="right") for n in names]
    rows = [[zone, *(states.get(n, 0) for n in names)] for zone, states in by_zone.items()]
    if rows:
        print_table(columns, rows, indent=2)


def _sender(shown: dict[str, Any]) -> str:
    """Who sent an alert: its operator, or the clock's notice."""
    if shown["sent_by"]:
        return str(shown["sent_by"])
    if shown["notice_id"] is not None:
        return f"the scheduler (notice {shown['notice_id']})"
    return "unknown (sent before the audit trail)"


def _print_deliveries(wired: Services, alert_id: int, include_phones: bool, as_json: bool) -> None:
    """One CSV row per recipient on stdout, streamed, every cell safe for a spreadsheet."""
    import csv
    import sys

    from alerts.sending.delivery_export import COLUMNS, delivery_rows
    from alerts.subscribers.subscriber_import import spreadsheet_safe

    if as_json:
        raise UsageError("--deliveries writes CSV; it does not go with --json")
    rows = delivery_rows(wired, alert_id, include_phones=include_phones)
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})


def history(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, max=MAX_HISTORY, help="How many alerts."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The latest alerts, newest first (times local, in the operator's language)."""
    from alerts.commands.tables import Column, print_table
    from alerts.sending import alert_reports

    rows = alert_reports.alert_history(services(ctx), limit)
    if as_json:
        print_json(rows)
        return
    cli = state(ctx)
    columns = (
        Column("id", justify="right"),
        Column("kind"),
        Column("state"),
        Column("created"),
        Column("recipients", short="rcpt", justify="right"),
        Column("sent", justify="right"),
        Column("failed", short="fail", justify="right"),
        # The French text; under its row when the terminal is too narrow for it beside.
        Column("text", wrap=True, min_width=30, below=True),
    )
    keys = ("alert_id", "kind", "state", "created_at", "recipients", "sent", "failed", "text")
    cells = [
        [cli.human_time(row[key]) if key == "created_at" else row[key] for key in keys]
        for row in rows
    ]
    print_table(columns, cells)
