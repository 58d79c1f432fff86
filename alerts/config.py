"""Settings: a TOML file, then environment overrides, validated once.

Nothing else in the service reads os.environ.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from alerts.core.composition import DEFAULT_TEMPLATES, check_template
from alerts.core.replies import Replies, default_templates, service_replies
from alerts.core.schedule_rules import parse_duration, parse_window
from alerts.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "alerts.toml"

# Environment variable -> dotted settings key. These are the documented names.
ENV_KEYS: dict[str, str] = {
    "ALERTS_DATABASE_URL": "database.url",
    "ALERTS_GATEWAY": "gateway.kind",
    "ALERTS_GATEWAY_FILE": "gateway.file_path",
    "ALERTS_TIMEZONE": "service.timezone",
    "ALERTS_OPERATOR_LANGUAGE": "service.operator_language",
    "ALERTS_PUBLIC_URL": "service.public_url",
    "ALERTS_OPERATOR": "service.operator",
    "ALERTS_TWILIO_FROM": "twilio.from_number",
    "ALERTS_TWILIO_MESSAGING_SERVICE_SID": "twilio.messaging_service_sid",
    "ALERTS_TWILIO_API_BASE_URL": "twilio.api_base_url",
    "TWILIO_ACCOUNT_SID": "twilio.account_sid",
    "TWILIO_AUTH_TOKEN": "twilio.auth_token",
    # The outbound proxy, as every HTTP client reads it; the lower-case names win.
    "HTTPS_PROXY": "twilio.https_proxy",
    "https_proxy": "twilio.https_proxy",
    "HTTP_PROXY": "twilio.http_proxy",
    "http_proxy": "twilio.http_proxy",
    "NO_PROXY": "twilio.no_proxy",
    "no_proxy": "twilio.no_proxy",
    "ALERTS_DISPATCH_RATE": "dispatch.rate_per_second",
    "ALERTS_LOG_LEVEL": "log.level",
    "ALERTS_LOG_FORMAT": "log.format",
    "ALERTS_FORWARDED_ALLOW_IPS": "web.forwarded_allow_ips",
}
# Keys that may only come from the environment: a config file never holds a secret, and
# one shared by a team cannot say which operator runs the command.
ENV_ONLY_KEYS = {"twilio.auth_token", "service.operator"}
# Where operator_language "auto" finds the operator's language: POSIX's order for dates
# and times (LC_ALL overrides LC_TIME, which overrides LANG; an empty one is not set).
LOCALE_VARIABLES = ("LC_ALL", "LC_TIME", "LANG")

_SUPPORTED_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def _http_or_empty(value: str) -> str:
    """An http(s) base address without its trailing slash, or "" (not set)."""
    value = value.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https:// (got {value!r})")
    return value


def _proxy_url(value: str) -> str:
    """An http(s) proxy's URL (`HOST:PORT` alone means http://), or "" (none)."""
    value = value.strip()
    if not value:
        return ""
    url = value if "://" in value else f"http://{value}"
    parts = urlsplit(url)
    shown = url.replace(parts.netloc, parts.netloc.rpartition("@")[2])  # no credentials
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ValueError(f"must be an HTTP proxy, http://HOST:PORT (got {shown!r})")
    return url


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSettings(_Section):
    """Who the service is and where it lives."""

    name_fr: str = "Alertes de quartier"
    name_en: str = "Neighbourhood Alerts"
    timezone: str = "America/Toronto"
    public_url: str = ""
    support_contact: str = "311"
    default_lang: Literal["fr", "en"] = "fr"
    # The language the CLI writes times in for the operator: fr, en, or auto (the locale).
    operator_language: Literal["fr", "en", "auto"] = "auto"
    region: str = "CA"
    # Who runs the CLI, for the audit trail (ALERTS_OPERATOR only; else the OS user).
    operator: str = Field(default="", max_length=100)
    # What the public page tells residents to text, and to which number.
    sms_number: str = ""
    sms_keyword_fr: str = "ABONNER"
    sms_keyword_en: str = "SUBSCRIBE"
    # The CAP <sender>: a globally unique name, such as a domain; empty means public_url's host.
    cap_sender: str = ""
    # New alerts are marked as an exercise (CAP status Exercise), for demos and drills.
    exercise: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (example: America/Toronto)") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http_or_empty(value)

    @field_validator("operator_language", mode="before")
    @classmethod
    def _language_word(cls, value: Any) -> Any:
        # " FR " from an environment variable means fr; anything else is refused by the type.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("operator")
    @classmethod
    def _operator_name(cls, value: str) -> str:
        value = value.strip()
        if not value.isprintable():
            raise ValueError("must be a name without control characters")
        return value

    @field_validator("cap_sender")
    @classmethod
    def _cap_sender(cls, value: str) -> str:
        # CAP 1.2 forbids spaces, commas and the XML-reserved < and & in <sender>.
        if any(char in value for char in " ,<&\t\n"):
            raise ValueError(f"may not contain spaces, commas, < or & (got {value!r})")
        return value

    @field_validator("sms_keyword_fr", "sms_keyword_en")
    @classmethod
    def _keyword(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("region")
    @classmethod
    def _region_code(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f"must be a two-letter country code such as CA (got {value!r})")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        """The service time zone, for every wall-clock input and output."""
        return ZoneInfo(self.timezone)


class DatabaseSettings(_Section):
    """Where subscriptions, alerts and deliveries are stored."""

    url: str = "sqlite:///alerts.db"
    busy_timeout_ms: int = Field(default=5000, ge=0)

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(
                f"cannot parse {_redact_url(value)!r} "
                "(expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
            ) from exc
        driver = _SUPPORTED_DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"unsupported database {url.drivername!r} (use sqlite:/// or postgresql+psycopg://)"
            )
        if driver == "postgresql+psycopg" and not url.database:
            raise ValueError("a PostgreSQL URL must name a database")
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file (single-process deployments)."""
        return self.url.startswith("sqlite")

    def redacted_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return _redact_url(self.url)


class GatewaySettings(_Section):
    """Which SMS gateway sends messages."""

    kind: Literal["console", "file", "twilio"] = "console"
    file_path: str = "sms-outbox.jsonl"


class TwilioSettings(_Section):
    """Twilio account and sender, and the outbound proxy on the way to it; credentials
    come from the environment only."""

    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    messaging_service_sid: str = ""
    api_base_url: str = ""
    validity_period: int = Field(default=36000, ge=1, le=36000)
    timeout_seconds: float = Field(default=10.0, gt=0)
    # The outbound proxy for https:// and http:// addresses, and the hosts reached directly.
    https_proxy: str = ""
    http_proxy: str = ""
    no_proxy: str = ""

    @field_validator("api_base_url")
    @classmethod
    def _http_base(cls, value: str) -> str:
        return _http_or_empty(value)

    @field_validator("https_proxy", "http_proxy")
    @classmethod
    def _proxy(cls, value: str) -> str:
        return _proxy_url(value)

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid(cls, value: str) -> str:
        if value and not value.startswith("MG"):
            raise ValueError("a Messaging Service SID starts with MG")
        return value


class ZonesSettings(_Section):
    """How places are matched to neighbourhoods."""

    snap_meters: float = Field(default=50.0, ge=0, le=5000)
    aliases: dict[str, str] = Field(default_factory=dict)
    # The largest layer or address file read (bytes), from a path or a URL alike.
    max_layer_bytes: int = Field(default=200_000_000, ge=1)
    online_geocoder: bool = False
    nominatim_url: str = "https://nominatim.openstreetmap.org"
    nominatim_user_agent: str = "neighbourhood-alerts"
    nominatim_country_codes: str = "ca"
    online_timeout_seconds: float = Field(default=3.0, gt=0, le=30)

    @field_validator("nominatim_url")
    @classmethod
    def _nominatim_http(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the server's http(s) address")
        return _http_or_empty(value)


class SmsSettings(_Section):
    """The SMS conversation with residents."""

    max_auto_replies_per_hour: int = Field(default=5, ge=0)
    # A subscription never confirmed (no OUI/YES) is forgotten after this many days.
    pending_days: int = Field(default=7, ge=1, le=365)
    message_frequency_fr: str = "quelques messages par hiver"
    message_frequency_en: str = "a few messages per winter"


class RepliesSettings(_Section):
    """Operator overrides of the replies to residents (see alerts/core/replies.toml)."""

    fr: dict[str, str] = Field(default_factory=dict)
    en: dict[str, str] = Field(default_factory=dict)

    @field_validator("fr", "en")
    @classmethod
    def _known_replies(cls, value: dict[str, str]) -> dict[str, str]:
        known = default_templates()["fr"]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown reply {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return value


class SendSettings(_Section):
    """Operator sends: limits, confirmation and cost."""

    max_segments: int = Field(default=2, ge=1, le=10)
    confirm_over: int = Field(default=1000, ge=0)
    price_per_segment: float = Field(default=0.0083, ge=0)
    currency: str = "USD"


class DispatchSettings(_Section):
    """The outbox workers: rate, requests in flight, leases, retries and reconciliation."""

    rate_per_second: float = Field(default=1.0, gt=0)
    rate_unit: Literal["messages", "segments"] = "segments"
    # A ceiling: a worker keeps about rate x observed latency requests in flight, never more.
    # The default covers 500 messages/s at 1 s per request, with headroom.
    max_in_flight: int = Field(default=1000, ge=1, le=5000)
    # Look-ups in the provider's log for one uncertain delivery before it is marked unknown.
    reconcile_attempts: int = Field(default=5, ge=1, le=20)
    batch_size: int = Field(default=100, ge=1, le=10000)
    lease_seconds: int = Field(default=60, ge=5)
    max_attempts: int = Field(default=12, ge=1)
    max_age_seconds: int = Field(default=4 * 3600, ge=60)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=600.0, gt=0)
    on_expired_lease: Literal["resend", "mark_unknown"] = "resend"
    redeliver_attempts: int = Field(default=1, ge=0, le=5)
    redeliver_delay_seconds: float = Field(default=900.0, ge=0)
    poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _renamed_concurrency(cls, data: Any) -> Any:
        """`dispatch.concurrency` (before max_in_flight) still works, with a note."""
        if isinstance(data, dict) and "concurrency" in data:
            data = dict(data)
            value = data.pop("concurrency")
            if "max_in_flight" not in data:
                data["max_in_flight"] = value
            log.warning(
                "dispatch.concurrency is deprecated: it is now the ceiling "
                "dispatch.max_in_flight (the window follows the rate and the latency)"
            )
        return data


class ScheduleSettings(_Section):
    """The clock: planned notices, their grace when late, quiet hours, one scheduler."""

    # A notice this late (seconds) is still sent; later it is marked missed and not sent.
    grace_seconds_snow: int = Field(default=1800, ge=1)
    grace_seconds_radar: int = Field(default=1800, ge=1)
    grace_seconds_info: int = Field(default=1800, ge=1)
    # Non-urgent notices due inside this local window ("22:00-07:00") wait for its end.
    quiet_hours: str = ""
    notice_before: str = "2h"
    reminder_before: str = "30m"
    all_clear: bool = True
    # Radar operations reach the zones within this distance of the site.
    radar_radius_m: float = Field(default=1000.0, gt=0, le=50_000)
    # How often the scheduler looks for notices written by other processes (the CLI).
    poll_seconds: float = Field(default=1.0, gt=0, le=30)
    # How often a process that does not run the scheduler tries to take the role.
    leader_retry_seconds: float = Field(default=5.0, gt=0, le=30)

    @field_validator("quiet_hours")
    @classmethod
    def _window(cls, value: str) -> str:
        if value.strip():
            parse_window(value)
        return value.strip()

    @field_validator("notice_before", "reminder_before")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def grace(self, kind: str) -> int:
        """Seconds a notice of this kind may be late and still go out."""
        return int(getattr(self, f"grace_seconds_{kind}", self.grace_seconds_info))


class TemplatesSettings(_Section):
    """Operator alert templates: overrides of the defaults and new ones, per language."""

    gsm_only: list[str] = Field(default_factory=list)
    fr: dict[str, str] = Field(default_factory=dict)
    en: dict[str, str] = Field(default_factory=dict)

    @field_validator("fr", "en")
    @classmethod
    def _valid_templates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            problem = check_template(name, text)
            if problem:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _both_languages(self) -> TemplatesSettings:
        for lang, other in (("fr", "en"), ("en", "fr")):
            mine, theirs = getattr(self, lang), getattr(self, other)
            for name in mine:
                if name not in theirs and name not in DEFAULT_TEMPLATES[other]:
                    raise ValueError(f"template {name!r} needs a text in [templates.{other}] too")
        return self


class WebSettings(_Section):
    """The public page, the open-data feeds and the metrics endpoint."""

    # /metrics answers loopback clients only (a Prometheus on the same machine).
    metrics_loopback_only: bool = True
    # The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: the
    # client address and scheme of their requests are those the proxy names. Empty: none.
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    # An alert outside a planned operation counts as current for this many hours.
    alert_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    # The Atom feed and zone pages keep notices this many days after they end.
    feed_days: int = Field(default=7, ge=0, le=90)

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _address_list(cls, value: Any) -> Any:
        # From the environment: "127.0.0.1, 10.0.0.0/24" (comma-separated; "" for none).
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry)  # an address is a network of one
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (example: 127.0.0.1, "
                    "10.0.0.0/24): list the proxies, not every client"
                ) from None
        return value


class LogSettings(_Section):
    """The log lines of `alerts serve`: how much, and as text or one JSON object a line."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _level_word(cls, value: Any) -> Any:
        # "info" from an environment variable means INFO; anything else is refused by the type.
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("format", mode="before")
    @classmethod
    def _format_word(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class Settings(_Section):
    """Every setting of the service, validated once at start-up."""

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    zones: ZonesSettings = Field(default_factory=ZonesSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    replies: RepliesSettings = Field(default_factory=RepliesSettings)
    send: SendSettings = Field(default_factory=SendSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    templates: TemplatesSettings = Field(default_factory=TemplatesSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    source: str = Field(default="built-in defaults", exclude=True)
    # The operator's locale as the environment gave it (LOCALE_VARIABLES), for "auto".
    locale: str = Field(default="", exclude=True)

    def with_overrides(self, **dotted: Any) -> Settings:
        """A copy with some dotted keys replaced (used by the demo and tests)."""
        data = self.model_dump(exclude={"source"})
        data["twilio"]["auth_token"] = self.twilio.auth_token.get_secret_value()
        for key, value in dotted.items():
            _set_dotted(data, key.replace("__", "."), value)
        return _validate(data, {}, self.source, self.locale)

    @property
    def operator_lang(self) -> Literal["fr", "en"]:
        """The operator's language: service.operator_language, or French for a fr* locale."""
        chosen = self.service.operator_language
        if chosen != "auto":
            return chosen
        return "fr" if self.locale.lower().startswith("fr") else "en"


def load_settings(
    config_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Read the config file (explicit, $ALERTS_CONFIG or ./alerts.toml), then the environment."""
    env = os.environ if env is None else env
    path = _choose_config_file(config_path, env, cwd or Path.cwd())
    data: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path is not None:
        data = _read_toml(path)
        for key in ENV_ONLY_KEYS:
            section, _, name = key.partition(".")
            if name in data.get(section, {}):
                raise ConfigError(
                    f"config: {key} may not be stored in {path}; set it in the environment instead"
                )
    for var, key in ENV_KEYS.items():
        if var in env:
            _set_dotted(data, key, env[var])
            origins[key] = var
    locale = next((env[name] for name in LOCALE_VARIABLES if env.get(name)), "")
    return _validate(data, origins, str(path) if path else "built-in defaults", locale)


def _choose_config_file(
    explicit: str | Path | None, env: Mapping[str, str], cwd: Path
) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config: file not found: {path}")
        return path
    if env.get("ALERTS_CONFIG"):
        path = Path(env["ALERTS_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"config: ALERTS_CONFIG names a missing file: {path}")
        return path
    default = cwd / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from exc


def _validate(
    data: dict[str, Any], origins: dict[str, str], source: str, locale: str = ""
) -> Settings:
    try:
        settings = Settings.model_validate({**data, "source": source, "locale": locale})
    except ValidationError as exc:
        raise ConfigError(_describe_first_error(exc, origins, source)) from None
    _check_gateway(settings)
    _check_replies(settings)
    return settings


def _check_replies(settings: Settings) -> None:
    """Help, info and opt-out replies must fit one SMS whole: they are never cut."""
    problems = replies_from(settings).too_long()
    if problems:
        raise ConfigError(f"config: {problems[0]}")


def replies_from(settings: Settings) -> Replies:
    """The replies with this service's name, support contact, message frequency and overrides."""
    service, sms = settings.service, settings.sms
    return service_replies(
        names={"fr": service.name_fr, "en": service.name_en},
        support=service.support_contact,
        frequencies={"fr": sms.message_frequency_fr, "en": sms.message_frequency_en},
        overrides={"fr": settings.replies.fr, "en": settings.replies.en},
    )


def _check_gateway(settings: Settings) -> None:
    """The Twilio gateway needs credentials and exactly one sender."""
    if settings.gateway.kind != "twilio":
        return
    twilio = settings.twilio
    if not twilio.account_sid:
        raise ConfigError(
            "config: twilio.account_sid is required by the twilio gateway (set TWILIO_ACCOUNT_SID)"
        )
    if not twilio.auth_token.get_secret_value():
        raise ConfigError(
            "config: twilio.auth_token is required by the twilio gateway (set TWILIO_AUTH_TOKEN)"
        )
    if bool(twilio.from_number) == bool(twilio.messaging_service_sid):
        raise ConfigError(
            "config: give exactly one of twilio.from_number and twilio.messaging_service_sid "
            "(ALERTS_TWILIO_FROM or ALERTS_TWILIO_MESSAGING_SERVICE_SID)"
        )


def _describe_first_error(exc: ValidationError, origins: dict[str, str], source: str) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    where = origins.get(key, source)
    if error["type"] == "extra_forbidden":
        return f"config: unknown key {key} (in {where})"
    message = error["msg"].removeprefix("Value error, ")
    if key in ENV_ONLY_KEYS or "auth_token" in key:
        return f"config: {key} is invalid (from {where})"
    return f"config: {key}: {message} (from {where})"


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *sections, name = key.split(".")
    node = data
    for section in sections:
        child = node.setdefault(section, {})
        if not isinstance(child, dict):
            raise ConfigError(f"config: {section} must be a table")
        node = child
    node[name] = value


def _redact_url(value: str) -> str:
    try:
        return make_url(value).render_as_string(hide_password=True)
    except ArgumentError:
        return value.split("@")[-1] if "@" in value else value
