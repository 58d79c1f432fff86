"""Where things are: the repository root, and the shared folder beside it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # tests/support/paths.py -> the repository
SHARED = REPO.parent / "shared"  # the city layers (data/) and Twilio's OpenAPI (twilio-oai/)
