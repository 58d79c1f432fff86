"""`alerts status ID --follow`: an alert's progress drawn live on stderr until it is over.

On a terminal, a progress bar; otherwise one line per change, at most every two seconds.
Ctrl-C stops following, never the sending.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from alerts.sending.alert_progress import AlertProgress
    from alerts.wiring import Services

POLL_SECONDS = 1.0  # how often the alert is read
LINE_SECONDS = 2.0  # without a terminal: a line per change, at most this often
_WORKER_CHECK_SECONDS = 10.0  # how often a queued alert's workers are looked for


def follow_alert(
    wired: Services,
    alert_id: int,
    *,
    poll: float = POLL_SECONDS,
    errors: Console | None = None,
) -> AlertProgress:
    """Draw an alert's progress until it is done, cancelled or failed; returns where it
    stands (on Ctrl-C, where it stood)."""
    from alerts.sending.alert_progress import alert_progress

    errors = errors or Console(stderr=True, highlight=False)
    progress = alert_progress(wired, alert_id)
    draw = _bar if errors.is_terminal else _lines
    try:
        for seen in draw(errors, _updates(wired, progress, poll, errors)):
            progress = seen
    except KeyboardInterrupt:
        errors.print(
            f"stopped following: alert {alert_id} goes on (alerts status {alert_id})", markup=False
        )
    return progress


def _updates(
    wired: Services, first: AlertProgress, poll: float, errors: Console
) -> Iterator[AlertProgress]:
    """The alert read every `poll` seconds until it is over; a warning, once, when it waits
    for workers that are not there."""
    from alerts.clock.heartbeats import workers_alive
    from alerts.sending.alert_progress import alert_progress

    progress, looked_at, warned = first, -_WORKER_CHECK_SECONDS, False
    yield progress
    while not progress.finished:
        now = time.monotonic()
        if not warned and progress.state == "queued" and now - looked_at >= _WORKER_CHECK_SECONDS:
            looked_at = now
            if not workers_alive(wired):
                warned = True
                errors.print(
                    f"warning: no dispatch worker is running: alert {progress.alert_id} waits "
                    "for `alerts serve` (or `alerts dispatch`)",
                    markup=False,
                )
        time.sleep(poll)
        progress = alert_progress(wired, progress.alert_id)
        yield progress


def _lines(errors: Console, updates: Iterator[AlertProgress]) -> Iterator[AlertProgress]:
    last, last_at = None, -LINE_SECONDS
    for progress in updates:
        line, now = progress.describe(), time.monotonic()
        if line != last and (now - last_at >= LINE_SECONDS or progress.finished):
            errors.print(line, markup=False)
            last, last_at = line, now
        yield progress


def _bar(errors: Console, updates: Iterator[AlertProgress]) -> Iterator[AlertProgress]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=errors, transient=True) as bar:
        task = None
        for progress in updates:
            failed = progress.count("failed", "unknown")
            detail = f"failed {failed}" if failed else ""
            description = f"alert {progress.alert_id} {progress.state}"
            if task is None:
                task = bar.add_task(description, total=progress.total, detail=detail)
            bar.update(
                task,
                description=description,
                completed=progress.done,
                total=progress.total,
                detail=detail,
            )
            yield progress
