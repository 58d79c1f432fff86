"""Operators' GeoJSON documents (a zone layer, a drawn area) from a local path or a URL.

Downloading is the service's business, not the pure zones package's: it parses what this
module reads. Files and downloads alike are read under a size limit, piece by piece, so a
device, a pipe or a server that never stops sending ends in one clear error.
"""

from __future__ import annotations

import http.client
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from alerts.errors import InvalidInput
from zones.errors import LayerError
from zones.layer_file import MAX_LAYER_BYTES, parse_json, read_bounded, read_json_file, too_large

# The largest CSV or calendar an operator imports (a city's subscribers fit in a fraction).
MAX_IMPORT_BYTES = 200_000_000
FETCH_TIMEOUT_S = 30.0  # for each read from the server
FETCH_DEADLINE_S = 300.0  # for the whole download: a server dripping bytes is cut off


def require_import_file(
    path: Path, max_bytes: int = MAX_IMPORT_BYTES, *, setting: str | None = None
) -> None:
    """An operator's import file must be a regular file of at most `max_bytes` (the value
    of `setting`, named in the error, when a setting decides it).

    CSV and calendar readers read a line, or the whole file, at once: a device (/dev/zero),
    a pipe or a file too big would grow the process until the kernel kills it.
    """
    try:
        found = path.stat()
    except OSError:
        return  # the reader names what is wrong (no such file, no permission)
    if not stat.S_ISREG(found.st_mode):
        raise InvalidInput(f"cannot read {path}: not a regular file")
    if found.st_size > max_bytes:
        advice = f"; raise {setting} to read it" if setting else ", refused"
        raise InvalidInput(f"{path}: larger than {max_bytes:,} bytes{advice}")


def fetch_json(path_or_url: str | Path, max_bytes: int = MAX_LAYER_BYTES) -> tuple[Any, str]:
    """Read and parse a JSON document of at most `max_bytes` from a local path or an
    http(s) URL; returns it and its source as named in messages."""
    source = str(path_or_url)
    if not source.startswith(("http://", "https://")):
        return read_json_file(source, max_bytes)
    try:
        request = urllib.request.Request(source, headers={"User-Agent": "neighbourhood-alerts"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
                raise too_large(source, max_bytes)  # said up front: not one byte read
            raw = read_bounded(_Deadline(response, source), max_bytes, source)
    except urllib.error.HTTPError as exc:
        raise LayerError(f"cannot download {source}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise LayerError(f"cannot download {source}: {reason}") from exc
    return parse_json(raw, source), source


class _Deadline:
    """A response read under an overall deadline (the timeout bounds each read only)."""

    def __init__(self, response: Any, source: str) -> None:
        self._response = response
        self._source = source
        self._until = time.monotonic() + FETCH_DEADLINE_S

    def read(self, size: int) -> bytes:
        if time.monotonic() > self._until:
            raise LayerError(
                f"cannot download {self._source}: not finished after {FETCH_DEADLINE_S:.0f} s"
            )
        piece: bytes = self._response.read(size)
        return piece
