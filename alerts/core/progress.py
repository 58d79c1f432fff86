"""Progress of a long operator task (an import, a send), told to whoever watches it.

Use-cases take a plain callable; the CLI draws it as a bar on a terminal. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Progress: TypeAlias = Callable[[str, int, "int | None"], None]
"""Called as a task goes with the step under way ("checking rows"), how many of its items
are done, and how many there are (None when not known)."""


def ignore_progress(step: str, done: int, total: int | None) -> None:
    """A Progress nobody watches."""
