"""`alerts subscribers ...`: operators manage subscribers."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from alerts.commands.console_text import plain
from alerts.commands.context import JSON_OPTION, MAX_ID, console, print_json, services, state
from alerts.core.phones import mask_phone
from alerts.errors import UsageError

if TYPE_CHECKING:
    from alerts.subscribers import message_history, subscriber_import

app = typer.Typer(
    help="Subscribers: add, show, list, import, export, remove, forget.", no_args_is_help=True
)
# What `subscribers list` shows without --limit or --all: a screenful, not 20,000 lines.
LIST_LIMIT = 50
# What `subscribers show --messages` shows without --limit: the latest texts both ways.
MESSAGES_LIMIT = 50


@app.command("add")
def add(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="Phone number, any usual form (+1 418 555 0123)."),
    zone: str = typer.Option(None, "--zone", help="Neighbourhood name."),
    address: str = typer.Option(None, "--address", help="Street address (needs an address file)."),
    at: str = typer.Option(None, "--at", help="Coordinates LAT,LON or a map link."),
    lang: str = typer.Option(None, "--lang", help="fr or en."),
    topics: str = typer.Option(None, "--topics", help="snow,radar (default both)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Subscribe a number to a neighbourhood (consent obtained by the operator)."""
    from alerts.subscribers import subscribers

    view = subscribers.add_subscriber(
        services(ctx), phone, zone=zone, address=address, at=at, lang=lang, topics=topics
    )
    if as_json:
        print_json(view.as_dict())
    else:
        console.print(
            f"{plain(mask_phone(view.phone))} subscribed to {plain(', '.join(view.zones))} "
            f"({plain(view.lang)}; {plain(', '.join(view.topics) or 'no topics')})."
        )


@app.command("show")
def show(
    ctx: typer.Context,
    phone: str,
    messages: bool = typer.Option(
        False, "--messages", help="Its texts both ways, newest first: state, provider error."
    ),
    limit: int = typer.Option(
        MESSAGES_LIMIT, "--limit", min=1, max=MAX_ID, help="With --messages: how many."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """One subscriber: status, language, zones and topics (--messages: what it was sent)."""
    from alerts.subscribers import message_history, subscribers

    wired = services(ctx)
    history = message_history.message_history(wired, phone, limit=limit) if messages else None
    view = history.subscriber if history else subscribers.show_subscriber(wired, phone)
    if as_json:
        print_json(history.as_dict(wired.settings.service.tz) if history else view.as_dict())
        return
    lang = state(ctx).operator_lang
    console.print(
        f"[bold]{plain(view.phone)}[/bold]  {plain(_status(view.status, view.error_code, lang))}"
        f"  lang={plain(view.lang or '-')}"
    )
    console.print(f"  zones:  {plain(', '.join(view.zones) or '-')}")
    console.print(f"  topics: {plain(', '.join(view.topics) or '-')}")
    if history is not None:
        _print_messages(ctx, history)


def _status(status: str, code: str | None, lang: str) -> str:
    """A status with the provider's code and its meaning, if the carrier refused the number."""
    if not code:
        return status
    from alerts.gateways.gateway import error_meaning

    return f"{status} ({code}: {error_meaning(code, lang)})"


def _print_messages(ctx: typer.Context, history: message_history.MessageHistory) -> None:
    """The messages as a table fitted to the terminal, times for people."""
    from alerts.commands.tables import Column, print_table
    from alerts.gateways.gateway import error_meaning

    cli = state(ctx)
    if not history.messages:
        console.print("No message to or from this number.")
        return
    columns = [
        Column("when"),
        Column("direction", short="dir"),
        Column("state"),
        Column("error", wrap=True, min_width=16, below=True),
        Column("text", wrap=True, min_width=24, below=True),
    ]
    rows = []
    for message in history.messages:
        code = message.error_code
        error = f"{code} {error_meaning(code, cli.operator_lang)}" if code else message.detail
        text = message.text + (f"\nreply: {message.reply}" if message.reply else "")
        rows.append((cli.human_time(message.at), message.direction, message.state, error, text))
    print_table(columns, rows)
    if history.total > len(history.messages):
        console.print(f"{history.total - len(history.messages)} older message(s) (--limit).")


@app.command("list")
def list_(
    ctx: typer.Context,
    zone: str = typer.Option(None, "--zone", help="Only the subscribers of this neighbourhood."),
    without_zone: bool = typer.Option(
        False, "--without-zone", help="Only those a layer re-import left without a zone."
    ),
    include_phones: bool = typer.Option(False, "--include-phones", help="Show whole numbers."),
    limit: int = typer.Option(
        None, "--limit", min=1, max=MAX_ID, help=f"Show the first N (default {LIST_LIMIT})."
    ),
    everyone: bool = typer.Option(False, "--all", help="Show every subscriber, however many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Subscribers, oldest first: the first screenful, and how many more (phone numbers
    masked unless --include-phones)."""
    from alerts.commands.tables import Column, print_table
    from alerts.subscribers import subscribers

    if everyone and limit is not None:
        raise UsageError("give --limit N or --all, not both")
    shown = None if everyone else (limit or LIST_LIMIT)
    wired = services(ctx)
    found = subscribers.list_subscribers(
        wired, zone=zone, without_zone=without_zone, include_phones=include_phones, limit=shown
    )
    views = list(found)
    more = 0
    if shown is not None and len(views) == shown:
        total = subscribers.count_subscribers(wired, zone=zone, without_zone=without_zone)
        more = total - len(views)
    if as_json:
        print_json([view.as_dict() for view in views])
        if more:  # stdout keeps its one document; the note goes beside it
            sys.stderr.write(f"{len(views):,} shown, and {more:,} more: --limit N or --all\n")
        return
    columns = (
        Column("phone"),
        Column("status"),
        Column("lang"),
        Column("zones", wrap=True, min_width=16, below=True),
        Column("topics", wrap=True),
    )
    rows = [
        (view.phone, view.status, view.lang, ", ".join(view.zones), ", ".join(view.topics))
        for view in views
    ]
    print_table(columns, rows)
    if more:
        console.print(f"{len(views):,} subscriber(s) shown, and {more:,} more: --limit N or --all")
    else:
        console.print(f"{len(views):,} subscriber(s)")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ..., help="CSV: phone (téléphone) and zone (quartier), address, lat, lon, lang, topics."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the good rows and report the bad ones."
    ),
    errors: Path = typer.Option(
        None, "--errors", help="Write the bad rows there as CSV (line, reason, the row)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a CSV in one transaction: comma or semicolon, UTF-8 or Windows-1252, French or
    English headers. Bad rows refuse the whole file unless --skip-invalid."""
    from alerts.commands.progress import step_progress
    from alerts.subscribers import subscriber_import

    wired = services(ctx)
    try:
        with step_progress("import", quiet=as_json) as progress:
            report = subscriber_import.import_subscribers(
                wired, file, skip_invalid=skip_invalid, errors_path=errors, progress=progress
            )
    except subscriber_import.BadRows as refused:
        # The one-line error names the first few; the whole list goes to stdout.
        if as_json:
            print_json(refused.report.as_dict())
        else:
            _print_bad_rows(refused.report, errors)
        raise
    if as_json:
        print_json(report.as_dict())
        return
    from alerts.subscribers.spreadsheet import DELIMITERS, ENCODINGS

    console.print(
        f"{plain(file.name)}: {ENCODINGS[report.encoding]}, "
        f"{DELIMITERS[report.delimiter]}-separated."
    )
    console.print(
        f"{report.rows} row(s): {report.subscribers_added} subscriber(s) added, "
        f"{report.subscribers_updated} updated, {report.subscriptions_added} subscription(s) added."
    )
    if report.skipped_opted_out:
        console.print(
            f"{report.skipped_opted_out} opted-out number(s) skipped (never re-subscribed)."
        )
    if report.skipped_inactive:
        console.print(f"{report.skipped_inactive} row(s) not marked active skipped.")
    if report.bad_rows:
        console.print(f"{len(report.bad_rows)} bad row(s) skipped:")
        _print_bad_rows(report, errors)


# Bad rows listed on the terminal; --json and --errors FILE hold them all.
_BAD_ROWS_SHOWN = 100


def _print_bad_rows(report: subscriber_import.ImportReport, errors: Path | None) -> None:
    from alerts.commands.tables import Column, print_table

    problems = report.bad_rows
    columns = (Column("line", justify="right"), Column("reason", wrap=True, min_width=20))
    print_table(columns, [(p.line, p.reason) for p in problems[:_BAD_ROWS_SHOWN]])
    if len(problems) > _BAD_ROWS_SHOWN:
        more = len(problems) - _BAD_ROWS_SHOWN
        where = "" if errors else " (--errors FILE writes them all)"
        console.print(f"... and {more} more{where}")
    if errors is not None and report.imported:
        console.print(f"Bad rows written to {plain(str(errors))}: correct them, import it again.")
    elif errors is not None:
        console.print(
            f"Bad rows written to {plain(str(errors))}. Nothing imported: correct the file, or "
            "import it with --skip-invalid and then the corrected bad rows."
        )


@app.command("export")
def export(
    ctx: typer.Context,
    include_phones: bool = typer.Option(
        False, "--include-phones", help="Whole numbers (personal data) instead of masked ones."
    ),
) -> None:
    """CSV of every subscription on stdout, in the import's columns."""
    from alerts.subscribers import subscriber_import

    if not include_phones:
        # Said on stderr: stdout is the file.
        typer.echo(
            "warning: phone numbers are masked: this file cannot be imported again "
            "(use --include-phones for one that can)",
            err=True,
        )
    writer = csv.DictWriter(sys.stdout, fieldnames=["phone", "zone", "lang", "topics", "status"])
    writer.writeheader()
    for row in subscriber_import.export_rows(services(ctx), include_phones=include_phones):
        writer.writerow(row)


@app.command("remove")
def remove(ctx: typer.Context, phone: str) -> None:
    """Delete a subscriber entered by mistake (keeps no opt-out record)."""
    from alerts.subscribers import subscribers

    subscribers.remove_subscriber(services(ctx), phone)
    console.print(f"{plain(mask_phone(phone))} removed.")


@app.command("forget")
def forget(
    ctx: typer.Context,
    phone: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a resident's data, keeping only the opt-out record (right to be forgotten)."""
    from alerts.core.phones import parse_phone
    from alerts.subscribers import subscribers

    wired = services(ctx)
    # The number is checked before anyone is asked about it.
    masked = mask_phone(parse_phone(phone, wired.settings.service.region))
    if not yes:
        if not _interactive():
            raise UsageError(
                f"forgetting {masked} deletes its subscriptions and messages for good; "
                "confirm with --yes"
            )
        typer.confirm(
            f"Forget {masked}: delete its subscriptions and messages for good?",
            abort=True,
            err=True,
        )
    known = subscribers.forget_subscriber(wired, phone)
    what = "data deleted" if known else "not a subscriber; its messages deleted"
    console.print(f"{plain(mask_phone(phone))}: {what}; the number stays opted out.")


def _interactive() -> bool:
    """Whether someone at a terminal can answer a question (stdin is a terminal)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # stdin closed
        return False
