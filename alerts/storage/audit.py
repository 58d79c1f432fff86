"""The audit trail: every operator action, who did it and when, written in the action's own
transaction (an action rolled back leaves no entry; an entry always has its action).

Subjects and details never hold a whole phone number: a subscriber is named by its masked
number, so forgetting a resident leaves nothing of the number here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session, col

from alerts.core.local_time import format_local
from alerts.storage.models import AuditEntry, utcnow

# The column widths of audit_entry (migration 0006).
_OPERATOR_MAX, _ACTION_MAX, _SUBJECT_MAX = 100, 40, 300


def record_action(
    session: Session,
    operator: str,
    action: str,
    subject: str,
    *,
    now: datetime | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add one entry to the trail in the caller's transaction (committed with the action).

    `detail` is small and JSON-able (kind, zones, counts); dates become ISO 8601, tuples
    lists, and None values are left out.
    """
    entry = AuditEntry(
        at=now or utcnow(),
        operator=operator[:_OPERATOR_MAX],
        action=action[:_ACTION_MAX],
        subject=subject[:_SUBJECT_MAX],
        detail=_jsonable({key: value for key, value in detail.items() if value is not None}),
    )
    session.add(entry)
    return entry


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail as plain JSON values: what the column holds on SQLite and PostgreSQL."""
    loaded: dict[str, Any] = json.loads(json.dumps(detail, default=_plain_value))
    return loaded


def _plain_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def list_actions(
    session: Session, *, since: datetime | None = None, limit: int = 50
) -> list[AuditEntry]:
    """The latest entries, newest first (at or after `since` if given)."""
    query = select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    return list(session.execute(query.limit(limit)).scalars())


def count_actions(session: Session, *, since: datetime | None = None) -> int:
    """How many entries there are (at or after `since` if given)."""
    query = select(func.count()).select_from(AuditEntry)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    return int(session.execute(query).scalar_one())


def entry_dict(entry: AuditEntry, tz: ZoneInfo) -> dict[str, Any]:
    """An entry as `alerts audit --json` prints it: the time in ISO 8601 with its offset."""
    return {
        "id": entry.id,
        "at": format_local(entry.at, tz),
        "operator": entry.operator,
        "action": entry.action,
        "subject": entry.subject,
        "detail": entry.detail,
    }
