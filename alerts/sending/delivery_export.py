"""One alert's deliveries, one row per recipient, streamed (an alert may reach 100,000
numbers): what `alerts status ID --deliveries` writes as CSV."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlmodel import col

from alerts.core.local_time import format_local
from alerts.core.phones import mask_phone
from alerts.sending.sending import AlertNotFound
from alerts.storage.models import Alert, Delivery, Subscriber, ZoneRecord
from alerts.wiring import Services

COLUMNS = ("phone", "zone", "language", "state", "error_code", "sent", "updated")
# Rows fetched from the database at a time (a server-side cursor on PostgreSQL).
_BATCH = 2000


def delivery_rows(
    services: Services, alert_id: int, *, include_phones: bool = False
) -> Iterator[dict[str, str]]:
    """The alert's deliveries in the order they were queued, as text cells: the phone masked
    unless asked (empty once its subscriber is gone), times in ISO 8601 with their offset.

    AlertNotFound is raised here, before the first row, not while rows are read.
    """
    with services.session(read_only=True) as session:
        if session.get(Alert, alert_id) is None:
            raise AlertNotFound(alert_id)
    return _rows(services, alert_id, include_phones)


def _rows(services: Services, alert_id: int, include_phones: bool) -> Iterator[dict[str, str]]:
    tz = services.settings.service.tz
    query = (
        select(
            col(Subscriber.phone), col(ZoneRecord.name), col(Delivery.lang), col(Delivery.state),
            col(Delivery.error_code), col(Delivery.sent_at), col(Delivery.finished_at),
            col(Delivery.claimed_at), col(Delivery.created_at),
        )
        .select_from(Delivery)
        .join(Subscriber, col(Subscriber.id) == Delivery.subscriber_id, isouter=True)
        .join(ZoneRecord, col(ZoneRecord.id) == Delivery.zone_id, isouter=True)
        .where(col(Delivery.alert_id) == alert_id)
        .order_by(col(Delivery.id))
        .execution_options(yield_per=_BATCH)
    )  # fmt: skip
    with services.session(read_only=True) as session:
        for row in session.execute(query):
            phone, zone, lang, state, code, sent, finished, claimed, created = row
            # The last step the delivery reached: finished, sent, claimed by a worker, queued.
            updated = finished or sent or claimed or created
            yield {
                "phone": (phone if include_phones else mask_phone(phone)) if phone else "",
                "zone": zone or "",
                "language": lang,
                "state": state,
                "error_code": code or "",
                "sent": format_local(sent, tz) if sent else "",
                "updated": format_local(updated, tz) if updated else "",
            }
