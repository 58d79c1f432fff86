"""Rendered public documents kept until their data or their moment changes, served with 304s.

A feed reader polling every minute should cost one small query: each request compares the
database's fingerprint (alerts.public.public_notices.fingerprint) with the one the cached body was
rendered from, and a body is also dropped when a notice it shows changes phase (starts,
ends, leaves the feed). ETags hash the body itself, so every process serving the same data
gives the same ETag, and a re-render that changes nothing still answers 304.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from alerts.public.public_notices import Snapshot, fingerprint, load_snapshot
from alerts.wiring import Services

_MAX_ENTRIES = 512
T = TypeVar("T")


@dataclass(frozen=True)
class Rendered:
    """A body with what it depends on in time: when it last changed and when it may next."""

    body: bytes
    last_modified: datetime
    valid_until: datetime | None = None


@dataclass(frozen=True)
class _Entry:
    fingerprint: tuple[Any, ...]
    rendered: Rendered
    etag: str


class PublicCache:
    """Per-process cache of the public snapshot and of each rendered document."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._snapshot: tuple[tuple[Any, ...], Snapshot] | None = None
        # As for the webhooks: a SQLite read takes a fraction of a millisecond, less than the
        # hop to a worker thread (a re-render, tens of milliseconds once per change, holds
        # the loop as a webhook turn does); PostgreSQL reads go to threads, side by side.
        self._inline = services.engine.dialect.name == "sqlite"

    async def run(self, work: Callable[[], T]) -> T:
        """Run database work for a route: inline on SQLite, in a worker thread otherwise."""
        if self._inline:
            return work()
        return await run_in_threadpool(work)

    def current_fingerprint(self) -> tuple[Any, ...]:
        """The database's fingerprint now (one small query)."""
        with self.services.session(read_only=True) as session:
            return fingerprint(session)

    def snapshot(self, stamp: tuple[Any, ...] | None = None) -> Snapshot:
        """The public snapshot, rebuilt when the data changed or a notice changed phase."""
        now = self.services.clock()
        stamp = stamp if stamp is not None else self.current_fingerprint()
        with self._lock:
            kept = self._snapshot
        if kept is not None and kept[0] == stamp and _still_valid(kept[1].valid_until, now):
            return kept[1]
        snapshot = load_snapshot(self.services, now)
        with self._lock:
            self._snapshot = (stamp, snapshot)
        return snapshot

    def document(
        self, key: Hashable, render: Callable[[Snapshot], Rendered], extra: Hashable = None
    ) -> tuple[str, Rendered]:
        """(ETag, rendering) of the document `key`, rendered again only when it may differ.

        `extra` is whatever else the document depends on that the fingerprint does not cover.
        """
        now = self.services.clock()
        database = self.current_fingerprint()
        stamp = (database, extra)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if (
            entry is None
            or entry.fingerprint != stamp
            or not _still_valid(entry.rendered.valid_until, now)
        ):
            rendered = render(self.snapshot(database))
            entry = _Entry(stamp, rendered, _etag(rendered.body))
            with self._lock:
                self._entries[key] = entry
                while len(self._entries) > _MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return entry.etag, entry.rendered


def _still_valid(valid_until: datetime | None, now: datetime) -> bool:
    return valid_until is None or now < valid_until


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def conditional_response(
    request: Request,
    etag: str,
    rendered: Rendered,
    media_type: str,
    *,
    cache_control: str = "no-cache",
    vary: str | None = None,
) -> Response:
    """The body, or 304 Not Modified when the client's copy (ETag or date) is current."""
    last_modified = rendered.last_modified.astimezone(UTC).replace(microsecond=0)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(last_modified, usegmt=True),
        "Cache-Control": cache_control,
    }
    if vary:
        headers["Vary"] = vary
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=media_type, headers=headers)


def not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """RFC 9110 rules: If-None-Match decides when present, else If-Modified-Since."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag_matches(match, etag)
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as the RFC says
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return last_modified <= when


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of If-None-Match ("*", a list, W/ prefixes) with our ETag."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def last_modified_of(*moments: datetime | None) -> datetime:
    """The latest of some moments (for documents not drawn from the snapshot)."""
    return max(moment for moment in moments if moment is not None)
