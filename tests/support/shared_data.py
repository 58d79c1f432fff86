"""The real city layers the tests read from ../shared/data, and what happens without them.

Two environment variables:

- ALERTS_SHARED_DATA: the data folder (default: the repository's ../shared/data); point it at
  a missing folder to see what the tests do without the data.
- ALERTS_REQUIRE_DATA=1: a missing data folder fails the tests that need it (CI) instead of
  skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.paths import SHARED

DATA = Path(os.environ.get("ALERTS_SHARED_DATA") or SHARED / "data")
REQUIRE_DATA = os.environ.get("ALERTS_REQUIRE_DATA") == "1"


def require_data() -> Path:
    """The data folder; skips the calling test when it is missing (fails with the variable)."""
    if not DATA.is_dir():
        reason = f"real city data not found in {DATA} (set ALERTS_SHARED_DATA to its folder)"
        if REQUIRE_DATA:
            pytest.fail(f"ALERTS_REQUIRE_DATA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return DATA


def data_file(relative: str) -> Path:
    """Path of a shared data file; skips the calling test when the file is absent."""
    path = require_data() / relative
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (expected beside the repository)")
    return path
