"""Progress bars for long commands: drawn on stderr when it is a terminal, so stdout stays
a clean document (--json, a CSV) and a log or a pipe gets nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts.core.progress import Progress


class Bar:
    """A bar on the terminal: how far a task is, of how much, and a few words on the side."""

    def __init__(self, progress: Any, label: str, total: int | None) -> None:
        self._progress = progress
        self._task = progress.add_task(label, total=total, detail="")
        self._description = label

    def update(
        self,
        done: int,
        total: int | None = None,
        *,
        detail: str = "",
        description: str | None = None,
    ) -> None:
        """Show `done` of `total` (None: the total is not known, or as last given).

        A new description starts the task again (a new step: its own total, its own time
        remaining).
        """
        if description is not None and description != self._description:
            self._progress.remove_task(self._task)
            self._task = self._progress.add_task(description, total=total, detail="")
            self._description = description
        self._progress.update(self._task, completed=done, total=total, detail=detail)


@contextmanager
def progress_bar(
    label: str, *, quiet: bool = False, total: int | None = None
) -> Iterator[Bar | None]:
    """A rich progress bar on stderr when it is a terminal and not `quiet`; None otherwise.

    The bar goes away at the end (the command's summary says what was done).
    """
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
    ) as drawn:
        yield Bar(drawn, label, total)


@contextmanager
def step_progress(label: str, *, quiet: bool = False) -> Iterator[Progress | None]:
    """A use-case's Progress (step, done, total) drawn as one bar, "label: step"; None when
    nothing is drawn."""
    with progress_bar(label, quiet=quiet) as bar:
        if bar is None:
            yield None
            return

        def tell(step: str, done: int, total: int | None) -> None:
            bar.update(done, total, description=f"{label}: {step}")

        yield tell
