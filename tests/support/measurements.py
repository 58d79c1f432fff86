"""Figures that tests measure (rates, agreement, lateness), printed at the end of every run.

Measured, never asserted on a timer: the terminal summary shows them without `-s`.
"""

from __future__ import annotations

MEASURED: dict[str, dict[str, str]] = {}  # section -> name -> value


def record(section: str, name: str, value: str) -> None:
    """Keep one figure for the run's summary, under a section such as "zones"."""
    MEASURED.setdefault(section, {})[name] = value
