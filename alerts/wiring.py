"""build(settings): the one place that wires the database, zone layer, replies and gateway."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.config import Settings, replies_from
from alerts.core.replies import Replies
from alerts.gateways.gateway import ConsoleGateway, FileGateway, Gateway
from alerts.gateways.gateway_metrics import instrumented
from alerts.gateways.online_geocoder import NominatimGeocoder
from alerts.storage import db
from alerts.storage.jobs import JobStoreTimer, Timer, store_only_timer
from alerts.storage.models import utcnow
from alerts.storage.zone_catalog import ZoneCatalog


@dataclass
class Services:
    """What use-case functions are handed: settings, storage, places, replies, the SMS gateway
    and the timer of planned notices."""

    settings: Settings
    engine: Engine
    zones: ZoneCatalog
    replies: Replies
    clock: Callable[[], datetime] = utcnow
    gateway_factory: Callable[[Settings], Gateway] | None = None
    online_geocoder: NominatimGeocoder | None = None
    _gateway: Gateway | None = field(default=None, repr=False)
    # The running scheduler's timer while this process holds the scheduler role.
    _running_timer: Timer | None = field(default=None, repr=False)
    _store_timer: JobStoreTimer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextlib.contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A database session committed on success, rolled back on error."""
        with db.session_scope(self.engine, read_only=read_only) as session:
            yield session

    @property
    def gateway(self) -> Gateway:
        """The SMS gateway, built on first use (a demo or a listing never needs Twilio)."""
        with self._lock:
            if self._gateway is None:
                factory = self.gateway_factory or gateway_from_settings
                self._gateway = instrumented(factory(self.settings))
            return self._gateway

    @property
    def timer(self) -> Timer:
        """Where notices' jobs go: the running scheduler's when this process leads, else a
        writer that only stores them for the process that does (the CLI's case)."""
        with self._lock:
            if self._running_timer is not None:
                return self._running_timer
            if self._store_timer is None:
                self._store_timer = store_only_timer(self.engine)
            return self._store_timer

    def use_timer(self, timer: Timer | None) -> None:
        """Hand jobs to the running scheduler's timer (None: it stopped)."""
        with self._lock:
            self._running_timer = timer

    def close(self) -> None:
        """Release the job store, the gateway's connections and the database pool."""
        if self._store_timer is not None:
            self._store_timer.close()
            self._store_timer = None
        if self._gateway is not None:
            self._gateway.close()
        self.engine.dispose()


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    gateway: Gateway | None = None,
    migrate: bool = True,
) -> Services:
    """Wire the adapters for these settings; an empty database is migrated on first use."""
    engine = db.make_engine(settings.database)
    if migrate:
        db.ensure_schema(engine)
    services = Services(
        settings=settings,
        engine=engine,
        zones=ZoneCatalog(engine, settings.zones),
        replies=replies_from(settings),
        clock=clock or utcnow,
    )
    services._gateway = instrumented(gateway) if gateway is not None else None
    if settings.zones.online_geocoder:
        services.online_geocoder = NominatimGeocoder(settings.zones)
    return services


def gateway_from_settings(settings: Settings) -> Gateway:
    """The configured gateway: console, a JSON-lines file, or Twilio."""
    kind = settings.gateway.kind
    if kind == "console":
        return ConsoleGateway()
    if kind == "file":
        return FileGateway(settings.gateway.file_path)
    from alerts.gateways.twilio_gateway import TwilioGateway  # only this branch needs the SDK

    twilio = settings.twilio
    status_callback = (
        f"{settings.service.public_url}/sms/status" if settings.service.public_url else None
    )
    return TwilioGateway(
        twilio.account_sid,
        twilio.auth_token.get_secret_value(),
        from_number=twilio.from_number or None,
        messaging_service_sid=twilio.messaging_service_sid or None,
        status_callback=status_callback,
        validity_period=twilio.validity_period,
        api_base_url=twilio.api_base_url or None,
        timeout=twilio.timeout_seconds,
        pool_size=max(settings.dispatch.max_in_flight, 4),
    )
