"""SQLModel tables: zones, subscribers, subscriptions, addresses, alerts, deliveries, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Unicode,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from alerts.storage.db import utcnow


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for bulk statements (SQLModel leaves it untyped)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(nullable: bool = False, index: bool = False) -> Any:
    column: Column[datetime] = Column(UTCDateTime(), nullable=nullable, index=index)
    if nullable:
        return Field(default=None, sa_column=column)
    return Field(default_factory=utcnow, sa_column=column)


def _fk(target: str, ondelete: str, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
        ),
    )


# Subscriber statuses.
PENDING = "pending"
ACTIVE = "active"
OPTED_OUT = "opted_out"

TOPICS = ("snow", "radar")
LANGS = ("fr", "en")


class Meta(SQLModel, table=True):
    """Small named values shared by every process, such as dataset versions."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str = ""


class ZoneLayerInfo(SQLModel, table=True):
    """The imported layer as a whole: one row, its version bumped on each import."""

    __tablename__ = "zone_layer"

    id: int | None = Field(default=None, primary_key=True)
    source: str
    crs: str
    version: int = 1
    imported: int = 0
    repaired: int = 0
    skipped: int = 0
    imported_at: datetime = _when()


class ZoneRecord(SQLModel, table=True):
    """One neighbourhood of the layer, its geometry in lon/lat as WKB."""

    __tablename__ = "zone"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    slug: str = Field(unique=True)
    geometry_wkb: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    area_km2: float = 0.0
    position: int = 0


class Subscriber(SQLModel, table=True):
    """A phone number and what it wants: status, language and topics."""

    __tablename__ = "subscriber"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(unique=True, max_length=16)
    status: str = Field(default=PENDING, index=True, max_length=12)
    lang: str = Field(default="fr", max_length=2)
    topic_snow: bool = True
    topic_radar: bool = True
    source: str = Field(default="sms", max_length=12)
    # Conversation memory between two messages (candidates awaiting "1", "2"...).
    pending_state: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _when()
    updated_at: datetime = _when()
    confirmed_at: datetime | None = _when(nullable=True)
    opted_out_at: datetime | None = _when(nullable=True)

    @property
    def topics(self) -> list[str]:
        """The topics this subscriber receives, in a stable order."""
        return [t for t, on in (("snow", self.topic_snow), ("radar", self.topic_radar)) if on]


class Subscription(SQLModel, table=True):
    """A subscriber's neighbourhood, with the place they gave (personal data) if any."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("subscriber_id", "zone_id", name="uq_subscription_zone"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = _fk("subscriber.id", "CASCADE")
    zone_id: int | None = _fk("zone.id", "SET NULL", nullable=True)
    status: str = Field(default=PENDING, max_length=12)
    place_text: str | None = None
    lon: float | None = None
    lat: float | None = None
    created_at: datetime = _when()
    # The name of the zone it was made for, kept when a layer import leaves it without a zone:
    # a later layer holding that name (or, with a point, containing the point) links it again.
    zone_name: str | None = None


class Suppression(SQLModel, table=True):
    """A number that must never be texted (opted out, forgotten or unreachable)."""

    __tablename__ = "suppression"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(unique=True, max_length=16)
    reason: str = Field(max_length=20)
    error_code: str | None = None
    created_at: datetime = _when()


class Address(SQLModel, table=True):
    """One civic address point of the gazetteer."""

    __tablename__ = "address"
    __table_args__ = (Index("ix_address_street_number", "street_key", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    number: int
    suffix: str = ""
    street: str
    street_key: str
    lon: float
    lat: float


class Alert(SQLModel, table=True):
    """A notice to a set of neighbourhoods, in French and English."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    state: str = Field(default="queued", index=True, max_length=12)
    urgent: bool = False
    exercise: bool = False
    body_fr: str
    body_en: str
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recipients: int = 0
    segments_fr: int = 0
    segments_en: int = 0
    correction_of: int | None = _fk("alert.id", "SET NULL", nullable=True)
    scheduled_for: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
    cancelled_at: datetime | None = _when(nullable=True)
    # Why the alert stopped early (state "failed"), e.g. the provider refused its text.
    error: str | None = None
    # The operator who sent it (ALERTS_OPERATOR, else the OS user); None for the clock's.
    sent_by: str | None = Field(default=None, max_length=100)


class Delivery(SQLModel, table=True):
    """One message of an alert to one subscriber: the outbox row."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "subscriber_id", name="uq_delivery_recipient"),
        # Claims walk this index in order (id last: no sort of a million equal timestamps).
        Index("ix_delivery_claim", "state", "priority", "next_attempt_at", "id"),
        # One alert's rows by state: status reports, cancellation, "is it finished?", and the
        # claims of a worker sending one alert; the unique constraint serves the alert alone.
        Index("ix_delivery_alert_state", "alert_id", "state", "next_attempt_at", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    alert_id: int = _fk("alert.id", "CASCADE", index=False)
    subscriber_id: int | None = _fk("subscriber.id", "SET NULL", nullable=True)
    zone_id: int | None = _fk("zone.id", "SET NULL", nullable=True, index=False)
    lang: str = Field(default="fr", max_length=2)
    state: str = Field(default="queued", max_length=12)
    priority: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = _when(nullable=True)
    lease_until: datetime | None = _when(nullable=True)
    provider_id: str | None = Field(default=None, index=True, max_length=64)
    error_code: str | None = Field(default=None, max_length=16)
    error_message: str | None = None
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)
    finished_at: datetime | None = _when(nullable=True)
    # The worker holding the row: a reservation while queued, the request while sending.
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Set when the row may have reached the provider without our knowing (a worker died
    # mid-request, or a request timed out): a resend may have been a duplicate.
    uncertain: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    segments: int | None = None  # as billed by the provider
    # When the last attempt was claimed: a look-up in the provider's log after a crash
    # searches the messages created since then.
    claimed_at: datetime | None = _when(nullable=True)
    # Look-ups in the provider's log that failed for this delivery (reconciliation backoff).
    checks: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # Sends again after an "undelivered" callback with a transient handset code.
    redeliveries: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class RateBucket(SQLModel, table=True):
    """The shared token bucket of one sender: every worker process draws from it."""

    __tablename__ = "rate_bucket"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    tokens: float = Field(sa_column=Column(Float, nullable=False))
    updated_at: datetime = _when()


class InboundMessage(SQLModel, table=True):
    """A text received from a resident, with what the service did and replied."""

    __tablename__ = "inbound_message"

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(unique=True, max_length=64)
    from_phone: str = Field(index=True, max_length=16)
    body: str = ""
    action: str = Field(default="", max_length=32)
    reply: str = ""
    opt_out_type: str | None = Field(default=None, max_length=16)
    received_at: datetime = _when(index=True)


class StatusEvent(SQLModel, table=True):
    """A delivery status callback from the SMS provider, kept until applied."""

    __tablename__ = "status_event"

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(index=True, max_length=64)
    status: str = Field(max_length=16)
    error_code: str | None = Field(default=None, max_length=16)
    applied: bool = Field(default=False, index=True)
    received_at: datetime = _when()


class Operation(SQLModel, table=True):
    """A planned snow-removal or photo-radar operation whose notices send themselves."""

    __tablename__ = "operation"

    id: int | None = Field(default=None, primary_key=True)
    # A stable id from the plan it came from (an iCalendar UID, a CSV id), for re-imports.
    external_id: str | None = Field(default=None, unique=True, max_length=255)
    kind: str = Field(max_length=8)
    zone_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    zone_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    location: str | None = None
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = None
    start_at: datetime = _when(index=True)
    end_at: datetime = _when()
    notice_before_s: int = 7200
    reminder_before_s: int | None = 1800
    all_clear: bool = True
    urgent: bool = False
    status: str = Field(default="planned", max_length=12)
    fingerprint: str = Field(default="", max_length=64)
    source: str = Field(default="cli", max_length=255)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Recurrence(SQLModel, table=True):
    """A notice repeated on a wall-clock schedule (a weekly radar round, a daily reminder)."""

    __tablename__ = "recurrence"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    # When, in the service time zone: "daily 19:00" or "mon,wed,fri 07:30".
    schedule: str = Field(max_length=64)
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=12)
    created_at: datetime = _when()


class Notice(SQLModel, table=True):
    """One message the clock sends at its time; the scheduler's durable record of it."""

    __tablename__ = "notice"
    # A recurring schedule fires once per due time, whichever process runs the scheduler.
    __table_args__ = (UniqueConstraint("recurrence_id", "due_at", name="uq_notice_recurrence_due"),)

    id: int | None = Field(default=None, primary_key=True)
    operation_id: int | None = _fk("operation.id", "CASCADE", nullable=True)
    recurrence_id: int | None = _fk("recurrence.id", "CASCADE", nullable=True)
    # The alert it sends: created when it fires, or (kind "alert") queued by `send --at`.
    alert_id: int | None = _fk("alert.id", "SET NULL", nullable=True)
    # notice, reminder, all_clear, correction, alert, recurring
    kind: str = Field(max_length=12)
    due_at: datetime = _when(index=True)
    status: str = Field(default="scheduled", index=True, max_length=12)
    urgent: bool = False
    detail: str | None = None
    fired_at: datetime | None = _when(nullable=True)
    late_seconds: float | None = None
    created_at: datetime = _when()


class AuditEntry(SQLModel, table=True):
    """One operator action: who did what, when (phone numbers masked, as everywhere)."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    operator: str = Field(max_length=100)
    # send, cancel, operations.add, zones.import, subscribers.forget...
    action: str = Field(max_length=40, index=True)
    # What it acted on: "alert 12", "operation 3", "+1******0123", a file name.
    subject: str = Field(default="", max_length=300)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Heartbeat(SQLModel, table=True):
    """A live part of `alerts serve` (the scheduler, a dispatch worker) saying it is alive."""

    __tablename__ = "heartbeat"
    __table_args__ = (UniqueConstraint("role", "process", name="uq_heartbeat_role_process"),)

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=12)  # scheduler, worker
    # Which process and part: host, pid and thread (dispatch-1...).
    process: str = Field(max_length=200)
    # The scheduler: whether this process held the scheduler lock when it last wrote.
    leader: bool = False
    seen_at: datetime = _when(index=True)
    started_at: datetime = _when()


# APScheduler's job store (its own layout), created by our migrations like every table.
scheduler_job = Table(
    "scheduler_job",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
