"""build(settings): the one place that wires the database, zone layer, replies and gateway."""

from __future__ import annotations

import contextlib
import getpass
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from alerts.config import Settings, replies_from
from alerts.core.replies import Replies
from alerts.gateways.gateway import ConsoleGateway, FileGateway, Gateway
from alerts.storage import db
from alerts.storage.db import utcnow
from alerts.storage.zone_catalog import ZoneCatalog

# The SDKs, the scheduler library and the metrics load where they are used: a command that
# lists zones starts without them.
if TYPE_CHECKING:
    from sqlmodel import Session

    from alerts.gateways.online_geocoder import NominatimGeocoder
    from alerts.storage.jobs import JobStoreTimer, Timer

# Who an action is recorded against when neither ALERTS_OPERATOR nor the OS names a user.
UNKNOWN_OPERATOR = "unknown"
OPERATOR_MAX = 100  # audit_entry.operator and alert.sent_by hold this many characters


@dataclass
class Services:
    """What use-case functions are handed: settings, storage, places, replies, the SMS gateway
    and the timer of planned notices."""

    settings: Settings
    engine: Engine
    zones: ZoneCatalog
    replies: Replies
    clock: Callable[[], datetime] = utcnow
    # Who runs this process's operator actions, for the audit trail and alert.sent_by.
    operator: str = UNKNOWN_OPERATOR
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
                from alerts.gateways.gateway_metrics import instrumented

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
                from alerts.storage.jobs import store_only_timer

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
    operator: str | None = None,
) -> Services:
    """Wire the adapters for these settings; an empty database is migrated on first use.

    `operator` is who the actions are recorded against: given, else ALERTS_OPERATOR, else
    the OS user.
    """
    engine = db.make_engine(settings.database)
    if migrate:
        db.ensure_schema(engine)
    services = Services(
        settings=settings,
        engine=engine,
        zones=ZoneCatalog(engine, settings.zones),
        replies=replies_from(settings),
        clock=clock or utcnow,
        operator=operator or current_operator(settings),
    )
    if gateway is not None:
        from alerts.gateways.gateway_metrics import instrumented

        services._gateway = instrumented(gateway)
    if settings.zones.online_geocoder:
        from alerts.gateways.online_geocoder import NominatimGeocoder

        services.online_geocoder = NominatimGeocoder(settings.zones)
    return services


def current_operator(settings: Settings) -> str:
    """Who runs this process: service.operator (ALERTS_OPERATOR), else the OS user."""
    if settings.service.operator:
        return settings.service.operator
    try:
        user = getpass.getuser()
    except Exception:  # no login name and no passwd entry (a bare container): say so
        return UNKNOWN_OPERATOR
    return " ".join(user.split())[:OPERATOR_MAX] or UNKNOWN_OPERATOR


def gateway_from_settings(settings: Settings) -> Gateway:
    """The configured gateway: console, a JSON-lines file, or Twilio."""
    kind = settings.gateway.kind
    if kind == "console":
        return ConsoleGateway()
    if kind == "file":
        return FileGateway(settings.gateway.file_path)
    from alerts.gateways.outbound_proxy import OutboundProxy
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
        proxy=OutboundProxy(twilio.https_proxy, twilio.http_proxy, twilio.no_proxy),
    )
