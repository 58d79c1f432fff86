"""The warning that nothing scheduled will go out: notices wait and no scheduler runs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerts.wiring import Services


def warn_if_no_scheduler(wired: Services) -> None:
    """On stderr (never in a --json document): pending notices or recurrences while no
    scheduler has been seen for two minutes."""
    from alerts.clock.heartbeats import scheduler_gap

    gap = scheduler_gap(wired)
    if gap is not None:
        sys.stderr.write(gap.message() + "\n")
        sys.stderr.flush()
