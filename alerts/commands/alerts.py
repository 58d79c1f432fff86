"""`alerts send | cancel | dispatch`: operators issue alerts, correct them, and send the outbox."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from alerts.commands import alert_previews
from alerts.commands.clock_warning import warn_if_no_scheduler
from alerts.commands.console_text import plain
from alerts.commands.context import (
    JSON_OPTION,
    console,
    print_json,
    services,
    state,
)
from alerts.errors import UsageError

# Start-up stays light (`alerts --help` loads none of this): each command imports the
# use-cases it runs.
if TYPE_CHECKING:
    from alerts.outbox.dispatch import DispatchReport, ProgressCallback
    from alerts.wiring import Services

_KIND_HELP = "snow, radar or info (info reaches every active subscriber)."
_TEMPLATE_HELP = "A template name: snow, radar, info... ('alerts templates list' shows them)."
# What composition.format_value spells out; everything else is used as given.
_VAR_HELP = (
    "A template value (repeatable): KEY=VALUE for both languages, KEY.fr=VALUE or "
    "KEY.en=VALUE for one (it wins over KEY=). ISO dates and times are written out in each "
    "language: 2026-12-03, 19:00, 2026-12-03 19:00 (or 2026-12-03T19:00) and 19:00-07:00 "
    'become "jeudi 3 décembre", "19 h", "jeudi 3 décembre à 19 h", "de 19 h à 7 h" / '
    '"Thursday, December 3", "7 p.m.", "Thursday, December 3 at 7 p.m.", '
    "\"from 7 p.m. to 7 a.m.\". A template's variables: 'alerts templates show NAME'."
)
# Alert ids are 32-bit integers in the database: a larger one names no alert, and the
# database driver would refuse to bind it (an internal error, not a usage one).
MAX_ALERT_ID = 2**31 - 1


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
    template: str = typer.Option(None, "--template", help=_TEMPLATE_HELP),
    var: list[str] = typer.Option(None, "--var", help=_VAR_HELP),
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
    """Preview, confirm, queue and send an alert.

    With a dispatch worker of `alerts serve` alive, the alert is queued for it and the
    command returns (follow it with `alerts status ID --follow`); with none, it is sent
    right here, with a progress bar. --at and --queue-only only queue.
    """
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
        warn_if_no_scheduler(wired)
        return
    draft = sending.prepare_alert(wired, request)
    if not as_json:
        alert_previews.print_send_preview(wired, draft)
    if dry_run:
        if as_json:
            print_json(alert_previews.send_document(wired, draft, None))
        return
    if draft.recipients > state(ctx).settings.send.confirm_over and not yes:
        typer.confirm(f"Send to {draft.recipients} recipients?", abort=True, err=True)
    queued = sending.queue_alert(wired, draft)
    report = follow = None
    if queued.state == "queued":
        report, follow = _send_or_hand_over(
            wired, queued.alert_id, queued.recipients, queue_only, as_json
        )
    elif queued.state == "scheduled":
        warn_if_no_scheduler(wired)
    if as_json:
        print_json(alert_previews.send_document(wired, draft, queued, report, follow))
        _exit_if_stopped(report)
        return
    when = (
        f" for {format_local(queued.scheduled_for, wired.settings.service.tz)}"
        if queued.scheduled_for
        else ""
    )
    console.print(
        f"Alert {queued.alert_id} {queued.state}{when}: {queued.recipients} recipient(s)."
        + (f" Follow with: {follow}" if follow else ""),
        markup=False,
    )
    if report is not None:
        console.print(_report_line(report))
    _exit_if_stopped(report)


def _send_or_hand_over(
    wired: Services, alert_id: int, recipients: int, queue_only: bool, quiet: bool
) -> tuple[DispatchReport | None, str | None]:
    """Leave a queued alert to the workers of `alerts serve` when one is alive (or with
    --queue-only), saying how to follow it; else send it right here.

    Returns the report of a send right here, or the command that follows the alert.
    """
    from alerts.clock.heartbeats import workers_alive

    follow = f"alerts status {alert_id} --follow"
    if workers_alive(wired):
        return None, follow
    if queue_only:
        sys.stderr.write(
            f"warning: no dispatch worker is running: alert {alert_id} waits for "
            "`alerts serve` (or `alerts dispatch`)\n"
        )
        return None, follow
    return _dispatch_alert(wired, alert_id, recipients, quiet), None


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


@contextmanager
def _progress_bar(quiet: bool, total: int | None, label: str) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on a terminal (on stderr); nothing otherwise."""
    from alerts.commands.progress import progress_bar

    with progress_bar(label, quiet=quiet, total=total) as bar:
        if bar is None:
            yield None
            return

        def update(report: DispatchReport) -> None:
            done = report.sent + report.failed + report.skipped
            whole = total if total is not None else done + report.remaining
            detail = (
                f"failed {report.failed}, retrying {report.retried}"
                if report.failed or report.retried
                else ""
            )
            bar.update(done, whole, detail=detail)

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


def cancel(
    ctx: typer.Context,
    alert_id: int = typer.Argument(..., min=1, max=MAX_ALERT_ID, help="The alert's id."),
    notify: bool = typer.Option(
        False,
        "--notify",
        help=(
            "Text those already reached the shipped correction in each one's language (it "
            "takes no text: --notify-fr and --notify-en give your own)."
        ),
    ),
    notify_fr: str = typer.Option(
        None, "--notify-fr", help="Your own French correction (with --notify-en)."
    ),
    notify_en: str = typer.Option(
        None, "--notify-en", help="Your own English correction (with --notify-fr)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the preview; change nothing."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    queue_only: bool = typer.Option(False, "--queue-only", help="Queue the correction only."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel what is not sent yet; --notify texts a correction to those already reached.

    The correction is the shipped `cancelled` template (its neighbourhoods, when the alert
    went out, and the opt-out word) in each resident's language, or your own texts
    (--notify-fr with --notify-en). It is previewed first, and confirmed as `send` is.
    Cancelling twice says the alert is already cancelled.
    """
    from alerts.core.composition import MessageSpec
    from alerts.sending import corrections

    if (notify_fr is None) != (notify_en is None):
        raise UsageError("--notify-fr and --notify-en go together")
    own = None if notify_fr is None else MessageSpec(text_fr=notify_fr, text_en=notify_en)
    wired = services(ctx)
    draft = corrections.prepare_cancel(wired, alert_id, own, shipped=notify and own is None)
    if not as_json and (draft.texts is not None or dry_run):
        alert_previews.print_cancel_preview(wired, draft)
    if dry_run:
        if as_json:
            print_json(alert_previews.cancel_document(draft))
        return
    if draft.recipients > state(ctx).settings.send.confirm_over and not yes:
        typer.confirm(
            f"Text the correction to {draft.recipients} recipients?", abort=True, err=True
        )
    result = corrections.cancel(wired, draft)
    report = follow = None
    if result.correction_id is not None and result.correction_recipients:
        report, follow = _send_or_hand_over(
            wired, result.correction_id, result.correction_recipients, queue_only, as_json
        )
    if as_json:
        print_json(alert_previews.cancel_document(draft, result, report, follow))
        _exit_if_stopped(report)
        return
    if result.already_cancelled:
        console.print(f"Alert {alert_id} is already cancelled.")
    elif result.state == "done" and not result.cancelled:
        console.print(f"Alert {alert_id} is done: nothing was left to cancel.")
    else:
        console.print(
            f"Alert {alert_id} {result.state}: {result.cancelled} delivery(ies) cancelled."
        )
    if result.earlier_correction_id is not None:
        console.print(
            f"Its correction, alert {result.earlier_correction_id}, was already queued: "
            f"none sent again (alerts status {result.earlier_correction_id})."
        )
    if result.correction_id is not None:
        console.print(
            f"Correction alert {result.correction_id} {'queued' if follow else 'sent'}: "
            f"{result.correction_recipients} recipient(s)."
            + (f" Follow with: {follow}" if follow else "")
        )
    if report is not None:
        console.print(_report_line(report))
    _exit_if_stopped(report)


def dispatch(
    ctx: typer.Context,
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Exit once nothing is queued or sending (waits out leases)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run an outbox worker: send queued deliveries at the configured rate."""
    from alerts.clock.heartbeats import WORKER, Pulse
    from alerts.outbox.dispatch import run_worker

    wired = services(ctx)
    # A worker that stays says so, like those of `alerts serve`: `alerts send` then leaves
    # it the sending. One that exits when idle does not (it could leave an alert behind).
    pulse = None if until_idle else Pulse(wired, WORKER, "dispatch")
    with _progress_bar(as_json, None, "dispatch") as progress, _stop_on_sigterm() as stop:
        try:
            report = run_worker(
                wired, until_idle=until_idle, progress=progress, stop=stop, heartbeat=pulse
            )
        finally:
            if pulse is not None:
                pulse.stop()
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(_report_line(report))
    _exit_if_stopped(report)
