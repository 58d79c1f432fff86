"""Operators' GeoJSON documents (a zone layer, a drawn area) from a local path or a URL.

Downloading is the service's business, not the pure zones package's: it parses what this
module reads.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from zones.errors import LayerError
from zones.layer_file import parse_json, read_json_file

FETCH_TIMEOUT_S = 30.0


def fetch_json(path_or_url: str | Path) -> tuple[Any, str]:
    """Read and parse a JSON document from a local path or an http(s) URL; returns it and
    its source as named in messages."""
    source = str(path_or_url)
    if not source.startswith(("http://", "https://")):
        return read_json_file(source)
    try:
        request = urllib.request.Request(source, headers={"User-Agent": "neighbourhood-alerts"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise LayerError(f"cannot download {source}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LayerError(f"cannot download {source}: {reason}") from exc
    return parse_json(raw, source), source
