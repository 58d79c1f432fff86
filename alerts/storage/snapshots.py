"""What a backup holds, and the private files backups are written to."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.errors import AlertsError
from alerts.storage.db import SQLITE_FILE_MODE

# Tables that make a file or an archive this service's database.
OWN_TABLES = ("alembic_version", "subscriber", "suppression")
# What a backup reports it holds: the people, the numbers never to text, the alerts sent.
COUNTED = {"subscribers": "subscriber", "suppressions": "suppression", "alerts": "alert"}


class BackupError(AlertsError):
    """A backup or restore that cannot be done (a missing tool, a file that is not one)."""


class DatabaseInUse(AlertsError):
    """The database to restore into is open in another process or session."""


@dataclass(frozen=True)
class Snapshot:
    """What a database or a backup of it holds: its schema revision and its main counts."""

    path: str
    size_bytes: int
    revision: str | None
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as a JSON object."""
        return {"path": self.path, "bytes": self.size_bytes, "revision": self.revision,
                **self.counts}  # fmt: skip

    def describe(self) -> str:
        """`12 subscriber(s), 3 suppression(s), 5 alert(s), schema 0006`."""
        counts = "".join(f"{count} {name[:-1]}(s), " for name, count in self.counts.items())
        return f"{counts}schema {self.revision or 'none'}"


def stamp(moment: datetime) -> str:
    """A moment in file names: `20261203T190000Z`."""
    return f"{moment:%Y%m%dT%H%M%SZ}"


def free_name(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`... the first that does not exist."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


def create_private(path: Path) -> None:
    """An empty file only its owner may read: copies hold phone numbers (personal data)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except OSError as exc:
        raise BackupError(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(descriptor, SQLITE_FILE_MODE)  # whatever the umask
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def written_into_place(target: Path) -> Iterator[Path]:
    """A private file beside `target` to write; renamed onto `target` (and synced) once the
    block succeeds, removed otherwise, so `target` is never a half-written copy."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # left by a killed process that had this pid
    create_private(partial)
    try:
        yield partial
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        for leftover in (partial, Path(f"{partial}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
