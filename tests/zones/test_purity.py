"""The zones package stays pure: no database, web, SMS or alerts imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("alerts", "sqlmodel", "sqlalchemy", "fastapi", "uvicorn", "twilio", "psycopg",
             "apscheduler", "httpx", "requests", "geopandas")  # fmt: skip


def test_zones_imports_nothing_impure() -> None:
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, zones, zones.geocode; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
