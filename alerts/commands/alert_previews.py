"""What `alerts send` and `alerts cancel` show before they act, as text or as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alerts.commands.console_text import plain
from alerts.commands.context import console

if TYPE_CHECKING:
    from alerts.core.composition import AlertTexts, Estimate
    from alerts.outbox.dispatch import DispatchReport
    from alerts.sending import cancelling, corrections, sending
    from alerts.wiring import Services


def print_send_preview(wired: Services, draft: sending.Draft) -> None:
    """What `send` will do: recipients by zone and language, each text, cost and time."""
    from rich.table import Table

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
    _print_texts(draft.texts)
    if draft.texts.changed:
        replaced = ", ".join(f"{a}->{b or '(dropped)'}" for a, b in draft.texts.changed.items())
        console.print(f"replaced for GSM-7: {plain(replaced)}")
    _print_cost(est)
    if draft.scheduled_for:
        console.print(
            f"scheduled for {format_local(draft.scheduled_for, wired.settings.service.tz)}"
        )
    for warning in est.warnings:
        console.print(f"[yellow]warning:[/yellow] {plain(warning)}", markup=True)


def print_cancel_preview(wired: Services, draft: corrections.CancelDraft) -> None:
    """What cancelling will stop and, with a correction, who gets which text at what cost."""
    if draft.already_cancelled:
        console.print(f"Alert {draft.alert_id} ({plain(draft.kind)}) is already cancelled.")
    elif draft.scheduled_recipients:
        console.print(
            f"Cancel scheduled alert {draft.alert_id} ({plain(draft.kind)}): its "
            f"{draft.scheduled_recipients} recipient(s) will not be texted."
        )
    else:
        console.print(
            f"Cancel alert {draft.alert_id} ({plain(draft.kind)}, {draft.state}): "
            f"{draft.pending} message(s) not sent yet will not go out."
        )
    if draft.texts is None:
        return
    if draft.earlier_correction_id is not None:
        console.print(
            f"A correction (alert {draft.earlier_correction_id}) was already queued: none again."
        )
        return
    if not draft.recipients:
        console.print("Nobody was texted yet: no correction to send.")
        return
    by_lang = ", ".join(f"{lang} {count}" for lang, count in draft.by_lang.items())
    console.print(f"[bold]Correction[/bold] to {draft.recipients} recipient(s): {by_lang}")
    _print_texts(draft.texts)
    est = draft.estimate
    assert est is not None
    _print_cost(est)
    for warning in (*draft.warnings, *est.warnings):
        console.print(f"[yellow]warning:[/yellow] {plain(warning)}")


def send_document(
    wired: Services,
    draft: sending.Draft,
    queued: sending.QueuedAlert | None,
    report: DispatchReport | None = None,
    follow: str | None = None,
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
        "follow": follow,  # left to the running workers: the command that follows it
    }


def cancel_document(
    draft: corrections.CancelDraft,
    result: cancelling.CancelResult | None = None,
    report: DispatchReport | None = None,
    follow: str | None = None,
) -> dict[str, Any]:
    """`alerts cancel --json`: the preview (--dry-run), or what was done."""
    from alerts.core.composition import LANGS

    correction = None
    if draft.texts is not None:
        est = draft.estimate
        assert est is not None
        correction = {
            "recipients": draft.recipients,
            "by_lang": draft.by_lang,
            "text": {lang: draft.texts[lang].text for lang in LANGS},
            "segments": {lang: draft.texts[lang].segments for lang in LANGS},
            "encoding": {lang: draft.texts[lang].encoding for lang in LANGS},
            "total_segments": est.total_segments,
            "estimated_cost": est.cost,
            "currency": est.currency,
            "warnings": [*draft.warnings, *est.warnings],
        }
    if result is None:
        done = {
            "state": "preview", "cancelled": 0, "correction_id": None,
            "correction_recipients": 0, "already_cancelled": draft.already_cancelled,
            "earlier_correction_id": draft.earlier_correction_id,
        }  # fmt: skip
    else:
        done = {
            "state": result.state, "cancelled": result.cancelled,
            "correction_id": result.correction_id,
            "correction_recipients": result.correction_recipients,
            "already_cancelled": result.already_cancelled,
            "earlier_correction_id": result.earlier_correction_id,
        }  # fmt: skip
    return {
        "alert_id": draft.alert_id,
        **done,
        "pending": draft.pending,
        "correction": correction,
        "dispatch": report.as_dict() if report else None,
        "follow": follow,
    }


def _print_texts(texts: AlertTexts) -> None:
    """Each language's text with its encoding and segments."""
    from alerts.core.composition import LANGS

    for lang in LANGS:
        text = texts[lang]
        console.print(f"[bold]{lang}[/bold] ({text.encoding}, {text.segments} segment(s)):")
        console.print(f"  {plain(text.text)}")


def _print_cost(est: Estimate) -> None:
    """The segments, cost and sending time of what would go out."""
    from alerts.core.composition import describe_duration

    console.print(
        f"{est.total_segments} segment(s), about {est.cost:.2f} {est.currency}, "
        f"about {describe_duration(est.seconds)} to send"
    )
