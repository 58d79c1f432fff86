"""`alerts subscribers ...`: operators manage subscribers."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from alerts.commands.console_text import plain
from alerts.commands.context import JSON_OPTION, console, print_json, services
from alerts.core.phones import mask_phone

app = typer.Typer(
    help="Subscribers: add, show, list, import, export, remove, forget.", no_args_is_help=True
)


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
def show(ctx: typer.Context, phone: str, as_json: bool = JSON_OPTION) -> None:
    """One subscriber: status, language, zones and topics."""
    from alerts.subscribers import subscribers

    view = subscribers.show_subscriber(services(ctx), phone)
    if as_json:
        print_json(view.as_dict())
        return
    console.print(
        f"[bold]{plain(view.phone)}[/bold]  {plain(view.status)}  lang={plain(view.lang or '-')}"
    )
    console.print(f"  zones:  {plain(', '.join(view.zones) or '-')}")
    console.print(f"  topics: {plain(', '.join(view.topics) or '-')}")


@app.command("list")
def list_(
    ctx: typer.Context,
    zone: str = typer.Option(None, "--zone", help="Only the subscribers of this neighbourhood."),
    without_zone: bool = typer.Option(
        False, "--without-zone", help="Only those a layer re-import left without a zone."
    ),
    include_phones: bool = typer.Option(False, "--include-phones", help="Show whole numbers."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Subscribers (phone numbers masked unless --include-phones)."""
    from rich.table import Table

    from alerts.subscribers import subscribers

    views = subscribers.list_subscribers(
        services(ctx), zone=zone, without_zone=without_zone, include_phones=include_phones
    )
    if as_json:
        print_json([view.as_dict() for view in views])
        return
    table = Table("phone", "status", "lang", "zones", "topics")
    count = 0
    for view in views:
        count += 1
        cells = (view.phone, view.status, view.lang, ", ".join(view.zones), ", ".join(view.topics))
        table.add_row(*(plain(cell) for cell in cells))
    console.print(table)
    console.print(f"{count} subscriber(s)")


@app.command("import")
def import_(ctx: typer.Context, file: Path, as_json: bool = JSON_OPTION) -> None:
    """Import a CSV (phone; zone, address, lat, lon, lang, topics) in one transaction."""
    from alerts.subscribers import subscriber_import

    report = subscriber_import.import_subscribers(services(ctx), file)
    if as_json:
        print_json(report.as_dict())
        return
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


@app.command("export")
def export(
    ctx: typer.Context,
    include_phones: bool = typer.Option(
        False, "--include-phones", help="Whole numbers (personal data) instead of masked ones."
    ),
) -> None:
    """CSV of every subscription on stdout, in the import's columns."""
    from alerts.subscribers import subscriber_import

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
def forget(ctx: typer.Context, phone: str) -> None:
    """Delete a resident's data, keeping only the opt-out record (right to be forgotten)."""
    from alerts.subscribers import subscribers

    known = subscribers.forget_subscriber(services(ctx), phone)
    what = "data deleted" if known else "not a subscriber; its messages deleted"
    console.print(f"{plain(mask_phone(phone))}: {what}; the number stays opted out.")
