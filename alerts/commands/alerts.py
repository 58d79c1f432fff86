"""`alerts send | status | cancel | history | dispatch`: operators issue and follow alerts."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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

# Start-up stays light (`alerts --help` loads none of this): each command imports the
# use-cases it runs.
if TYPE_CHECKING:
    from alerts.outbox.dispatch import DispatchReport, ProgressCallback
    from alerts.sending import sending
    from alerts.wiring import Services

_KIND_HELP = "snow, radar or info (info reaches every active subscriber)."
# Alert ids are 32-bit integers in the database: a larger one names no alert, and the
# database driver would refuse to bind it (an internal error, not a usage one).
MAX_ALERT_ID = 2**31 - 1
MAX_HISTORY = 100_000


def send(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--kind", help=_KIND_HELP),
    zone: list[str] = typer.Option(None, "--zone", help="A neighbourhood (repeatable)."),
    area: Path = typer.Option(None, "--area", help="A GeoJSON polygon file."),
    near: str = typer.Option(None, "--near", help="LAT,LON of a site (with --radius)."),
    radius: float = typer.Option(None, "--radius", help="Metres around --near."),
    everyone: bool = typer.Option(False, "--all", help="Every active subscriber."),
    message: str = typer.Option(None, "--message", help="The text, for every language."),
    message_fr: str = typer.Option(None, "--message-fr", help="The French text."),
    message_en: str = typer.Option(None, "--message-en", help="The English text."),
    template: str = typer.Option(None, "--template", help="A template name (snow, radar...)."),
    var: list[str] = typer.Option(None, "--var", help="KEY=VALUE for the template (repeatable)."),
    gsm_only: bool = typer.Option(False, "--gsm-only", help="Replace accents GSM-7 lacks."),
    at: str = typer.Option(None, "--at", help="Send later: local time, 2026-12-03 19:00."),
    every: str = typer.Option(
        None, "--every", help='Repeat at local times: "daily 19:00", "mon,wed 07:30".'
    ),
    urgent: bool = typer.Option(False, "--urgent", help="Ahead of every normal alert."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the preview; queue nothing."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    queue_only: bool = typer.Option(False, "--queue-only", help="Queue for running workers."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Preview, confirm, queue and send an alert (without --at or --queue-only, right here)."""
    from alerts.clock import recurring
    from alerts.core.composition import MessageSpec, parse_variables
    from alerts.core.local_time import format_local
    from alerts.sending import sending
    from alerts.sending.targeting import TargetSpec

    wired = services(ctx)
    request = sending.AlertRequest(
        kind=kind,
        target=TargetSpec(tuple(zone or ()), str(area) if area else None, near, radius, everyone),
        message=MessageSpec(message, message_fr, message_en, template, parse_variables(var or [])),
        gsm_only=gsm_only,
        at=at,
        urgent=urgent,
    )
    if every is not None:
        made = recurring.add_recurrence(wired, request, every)
        if as_json:
            print_json(made)
        else:
            console.print(f"Recurring alert {made['id']} armed: {plain(made['schedule'])}.")
        return
    draft = sending.prepare_alert(wired, request)
    if not as_json:
        _print_preview(wired, draft)
    if dry_run:
        if as_json:
            print_json(_send_document(wired, draft, None))
        return
    if draft.recipients > state(ctx).settings.send.confirm_over and not yes:
        typer.confirm(f"Send to {draft.recipients} recipients?", abort=True, err=True)
    queued = sending.queue_alert(wired, draft)
    report = None
    if queued.state == "queued" and not queue_only:
        report = _dispatch_alert(wired, queued.alert_id, queued.recipients, as_json)
    if as_json:
        print_json(_send_document(wired, draft, queued, report))
        _exit_if_stopped(report)
        return
    when = (
        f" for {format_local(queued.scheduled_for, wired.settings.service.tz)}"
        if queued.scheduled_for
        else ""
    )
    console.print(
        f"Alert {queued.alert_id} {queued.state}{when}: {queued.recipients} recipient(s).",
        markup=False,
    )
    if report is not None:
        console.print(_report_line(report))
    _exit_if_stopped(report)


def _dispatch_alert(wired: Services, alert_id: int, recipients: int, quiet: bool) -> DispatchReport:
    """Send one alert right here, with a progress bar on a terminal."""
    from alerts.outbox.dispatch import run_worker

    with (
        _progress_bar(quiet, recipients, f"alert {alert_id}") as progress,
        _stop_on_sigterm() as stop,
    ):
        return run_worker(wired, until_idle=True, alert_id=alert_id, progress=progress, stop=stop)


def _exit_if_stopped(report: DispatchReport | None) -> None:
    """A worker that had to stop (bad credentials, say) is a failure for the shell."""
    if report is not None and report.stopped:
        raise typer.Exit(1)


@contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """An event set by SIGTERM, so a worker stops after its requests in flight."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def _send_document(
    wired: Services,
    draft: sending.Draft,
    queued: sending.QueuedAlert | None,
    report: DispatchReport | None = None,
) -> dict[str, Any]:
    from alerts.core.composition import LANGS
    from alerts.core.local_time import format_local
    from alerts.sending import alert_reports

    tz = wired.settings.service.tz
    if queued is None:
        current = "preview"
    elif report is None:
        current = queued.state
    else:  # dispatched right here: its state now (done, or sending if stopped)
        current = alert_reports.alert_state(wired, queued.alert_id)
    return {
        "alert_id": queued.alert_id if queued else None,
        "state": current,
        "recipients": queued.recipients if queued else draft.recipients,
        "by_zone": draft.by_zone,
        "by_lang": draft.by_lang,
        "segments": {lang: draft.texts[lang].segments for lang in LANGS},
        "encoding": {lang: draft.texts[lang].encoding for lang in LANGS},
        "text": {lang: draft.texts[lang].text for lang in LANGS},
        "replaced": draft.texts.changed,
        "total_segments": draft.estimate.total_segments,
        "estimated_cost": draft.estimate.cost,
        "currency": draft.estimate.currency,
        "estimated_seconds": round(draft.estimate.seconds, 1),
        "warnings": list(draft.estimate.warnings),
        "scheduled_for": format_local(draft.scheduled_for, tz) if draft.scheduled_for else None,
        "dispatch": report.as_dict() if report else None,
    }


def _print_preview(wired: Services, draft: sending.Draft) -> None:
    from rich.table import Table

    from alerts.core.composition import LANGS, describe_duration
    from alerts.core.local_time import format_local

    est = draft.estimate
    # Zone names, the area's file name and the texts are data: printed as plain text.
    console.print(
        f"[bold]{plain(draft.request.kind)} alert[/bold] to {plain(draft.target.describe())}"
    )
    table = Table("zone", "recipients")
    for name, count in draft.by_zone.items():
        table.add_row(plain(name), str(count))
    console.print(table)
    by_lang = ", ".join(f"{lang} {count}" for lang, count in draft.by_lang.items())
    console.print(f"{draft.recipients} recipient(s): {plain(by_lang)}")
    for lang in LANGS:
        text = draft.texts[lang]
        console.print(f"[bold]{lang}[/bold] ({text.encoding}, {text.segments} segment(s)):")
        console.print(f"  {plain(text.text)}")
    if draft.texts.changed:
        replaced = ", ".join(f"{a}->{b or '(dropped)'}" for a, b in draft.texts.changed.items())
        console.print(f"replaced for GSM-7: {plain(replaced)}")
    console.print(
        f"{est.total_segments} segment(s), about {est.cost:.2f} {est.currency}, "
        f"about {describe_duration(est.seconds)} to send"
    )
    if draft.scheduled_for:
        console.print(
            f"scheduled for {format_local(draft.scheduled_for, wired.settings.service.tz)}"
        )
    for warning in est.warnings:
        console.print(f"[yellow]warning:[/yellow] {plain(warning)}", markup=True)


@contextmanager
def _progress_bar(quiet: bool, total: int | None, label: str) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on a terminal (on stderr); nothing otherwise."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    errors = Console(stderr=True)
    if quiet or not errors.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total, detail="")

        def update(report: DispatchReport) -> None:
            done = report.sent + report.failed + report.skipped
            whole = total if total is not None else done + report.remaining
            detail = (
                f"failed {report.failed}, retrying {report.retried}"
                if report.failed or report.retried
                else ""
            )
            bar.update(task, completed=done, total=whole, detail=detail)

        yield update


def _report_line(report: DispatchReport) -> str:
    line = (
        f"sent {report.sent}, failed {report.failed}, skipped {report.skipped}, "
        f"retries {report.retried}, uncertain {report.uncertain}, left {report.remaining}"
    )
    if report.looked_up:
        line += (
            f"; looked up {report.looked_up} lost answer(s) in the provider's log: "
            f"{report.reconciled} already sent, {report.unknown} unknown"
        )
    return line + (f"; stopped: {report.stopped}" if report.stopped else "")


def status(
    ctx: typer.Context,
    alert_id: int = id_argument("The alert's id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """An alert's progress: deliveries by state, by zone and by error code."""
    from alerts.sending import alert_reports

    shown = alert_reports.alert_status(services(ctx), alert_id)
    if as_json:
        print_json(shown)
        return
    console.print(
        f"[bold]alert {shown['alert_id']}[/bold] {shown['kind']}  {shown['state']}  "
        f"{shown['recipients']} recipient(s)  created {shown['created_at']}"
    )
    if shown["error"]:
        console.print(f"[red]{plain(shown['error'])}[/red]")
    counts = "  ".join(f"{name} {count}" for name, count in shown["deliveries"].items() if count)
    console.print(f"  {counts or 'no deliveries'}")
    for zone, states in shown["by_zone"].items():
        line = ", ".join(f"{name} {count}" for name, count in states.items())
        console.print(f"  {plain(zone)}: {line}")
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


def cancel(
    ctx: typer.Context,
    alert_id: int = typer.Argument(..., min=1, max=MAX_ALERT_ID, help="The alert's id."),
    notify: str = typer.Option(None, "--notify", help="A correction for those already texted."),
    queue_only: bool = typer.Option(False, "--queue-only", help="Queue the correction only."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel what is not sent yet; --notify texts a correction to those already reached."""
    from alerts.sending import sending

    wired = services(ctx)
    result = sending.cancel_alert(wired, alert_id, notify)
    report = None
    if result.correction_id is not None and result.correction_recipients and not queue_only:
        report = _dispatch_alert(wired, result.correction_id, result.correction_recipients, as_json)
    if as_json:
        print_json({**result.__dict__, "dispatch": report.as_dict() if report else None})
        _exit_if_stopped(report)
        return
    console.print(f"Alert {alert_id} {result.state}: {result.cancelled} delivery(ies) cancelled.")
    if result.correction_id is not None:
        console.print(
            f"Correction alert {result.correction_id}: {result.correction_recipients} recipient(s)."
        )
    if report is not None:
        console.print(_report_line(report))
    _exit_if_stopped(report)


def history(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, max=MAX_HISTORY, help="How many alerts."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The latest alerts, newest first."""
    from rich.table import Table

    from alerts.sending import alert_reports

    rows = alert_reports.alert_history(services(ctx), limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "state", "created", "recipients", "sent", "failed")
    table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=40)
    for row in rows:
        created = row["created_at"][:16].replace("T", " ")
        cells = (
            row["alert_id"], row["kind"], row["state"], created, row["recipients"],
            row["sent"], row["failed"], row["text"],
        )  # fmt: skip
        table.add_row(*(plain(cell) for cell in cells))
    console.print(table)


def dispatch(
    ctx: typer.Context,
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Exit once nothing is queued or sending (waits out leases)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run an outbox worker: send queued deliveries at the configured rate."""
    from alerts.outbox.dispatch import run_worker

    wired = services(ctx)
    with _progress_bar(as_json, None, "dispatch") as progress, _stop_on_sigterm() as stop:
        report = run_worker(wired, until_idle=until_idle, progress=progress, stop=stop)
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(_report_line(report))
    _exit_if_stopped(report)
