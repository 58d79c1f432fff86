"""How the demo speaks: the CLI prints with rich, tests collect the lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Narrator:
    """A heading per step and lines under it."""

    step: Callable[[str], None]
    say: Callable[[str], None]
