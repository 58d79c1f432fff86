"""The Twilio gateway: the only module that imports twilio.rest; wraps every failure it sees."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from alerts.errors import ConfigError
from alerts.gateway import ErrorKind, GatewayError, OutgoingSms, SendReceipt, classify
from alerts.phones import mask_phone

log = logging.getLogger(__name__)

MAX_VALIDITY_PERIOD = 36_000  # seconds; Twilio's ceiling for ValidityPeriod


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class TwilioGateway:
    """Sends SMS through Twilio's Messages API with the official SDK; safe to share by threads."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        validity_period: int | None = None,
        api_base_url: str | None = None,
        timeout: float = 10.0,
        pool_size: int = 32,
    ) -> None:
        if not account_sid or not auth_token:
            raise ConfigError(
                "Twilio credentials are missing: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            )
        if bool(from_number) == bool(messaging_service_sid):
            raise ConfigError(
                "set exactly one of twilio.from_number and twilio.messaging_service_sid"
            )
        if validity_period is not None and not 1 <= validity_period <= MAX_VALIDITY_PERIOD:
            raise ConfigError(
                f"twilio.validity_period must be between 1 and {MAX_VALIDITY_PERIOD} seconds"
            )
        if timeout <= 0:
            raise ConfigError("twilio.timeout must be a positive number of seconds")
        if pool_size < 1:
            raise ConfigError("twilio.pool_size must be at least 1")
        if api_base_url is not None:
            parts = urlsplit(api_base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"twilio.api_base_url is not an http(s) URL: {api_base_url!r}")

        self._auth_token = auth_token
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._status_callback = status_callback
        self._validity_period = validity_period
        self._timeout = timeout
        # Headers of the last response seen on each thread: TwilioRestException drops them,
        # and Retry-After lives there. send() runs the request on the caller's thread.
        self._last_response = threading.local()

        http_client = TwilioHttpClient(
            timeout=timeout, request_hooks={"response": [self._remember_response]}
        )
        # The SDK mounts a pool of min(32, cpu+4) on https only, and no pool for http (fakes,
        # Prism). One adapter sized for the dispatcher's threads, with no retries: the
        # dispatcher owns retries and must see every failure.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session = http_client.session
        assert session is not None  # pool_connections=True (the default) creates one
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        # Settings are read only by alerts.config: no proxy, CA bundle or .netrc lookups in the
        # environment on every request (they also cost a quarter of a send's CPU under load).
        session.trust_env = False
        self._session = session

        client = Client(account_sid, auth_token, http_client=http_client)
        # The SDK reads TWILIO_EDGE/TWILIO_REGION from os.environ; settings are read only by
        # alerts.config, and an edge would also rewrite a local api_base_url's host name.
        client.edge = None
        client.region = None
        if api_base_url is not None:
            # Messages live on the "api" domain; its base_url is the origin every request
            # of that domain is built from, so this redirects only what we use.
            client.api.base_url = api_base_url.rstrip("/")
        # Resolve the lazily built resource chain once, before threads share it.
        self._messages = client.api.v2010.account.messages
        self._client = client

    def _remember_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last_response.headers = response.headers

    def send(self, message: OutgoingSms) -> SendReceipt:
        """Create one Message resource; raise GatewayError for every kind of failure."""
        self._last_response.headers = None
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        if self._from_number:
            params["from_"] = self._from_number
        else:
            params["messaging_service_sid"] = self._messaging_service_sid
        if self._status_callback:
            params["status_callback"] = self._status_callback
        if self._validity_period is not None:
            params["validity_period"] = self._validity_period

        # Errors are built inside the except clauses but raised outside them, so the SDK or
        # requests exception (whose request carries the Authorization header) is neither the
        # __cause__ nor the __context__ of what escapes.
        error: GatewayError
        try:
            created = self._messages.create(**params)
        except TwilioRestException as exc:
            error = self._rest_error(message, exc.status, exc.code, exc.msg)
        except TwilioServiceException as exc:
            error = self._rest_error(message, exc.status, exc.code, exc.detail or exc.title)
        except requests.Timeout:
            error = GatewayError(
                f"Twilio did not answer within {self._timeout:g} s{_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="timeout",
            )
        except requests.ConnectionError as exc:
            error = GatewayError(
                f"could not reach Twilio ({_reason(exc)}){_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="connection",
            )
        except requests.RequestException as exc:
            # A garbled or truncated answer: the message may or may not have been accepted.
            error = GatewayError(
                f"broken answer from Twilio ({type(exc).__name__}){_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="connection",
            )
        except (TwilioException, ValueError) as exc:
            # ValueError covers a 2xx whose body is not JSON.
            error = GatewayError(
                f"unexpected answer from Twilio ({type(exc).__name__}){_ref(message)}",
                kind=ErrorKind.OTHER,
            )
        else:
            return self._receipt(message, created)
        raise error

    def _receipt(self, message: OutgoingSms, created: Any) -> SendReceipt:
        if not created.sid:
            raise GatewayError(
                f"Twilio accepted a message without a sid{_ref(message)}", kind=ErrorKind.OTHER
            )
        try:
            segments = int(created.num_segments) if created.num_segments is not None else None
        except (TypeError, ValueError):
            segments = None
        receipt = SendReceipt(
            provider_id=created.sid, status=str(created.status or "queued"), segments=segments
        )
        log.debug(
            "twilio accepted %s to %s%s",
            receipt.provider_id,
            mask_phone(message.to),
            _ref(message),
        )
        return receipt

    def _rest_error(
        self, message: OutgoingSms, status: int, code: int | str | None, text: str | None
    ) -> GatewayError:
        # Without a JSON error body the SDK puts the HTTP status in `code`; Twilio's own
        # codes have five digits, so a three-digit code is never a provider code.
        provider_code = None if code is None or str(code) == str(status) else str(code)
        kind = classify(status, provider_code)
        headers = getattr(self._last_response, "headers", None)
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
        if status == 401 or provider_code == "20003":
            summary = "Twilio rejected the credentials: check TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN"
        elif kind is ErrorKind.RETRYABLE:
            summary = f"Twilio could not take the message to {mask_phone(message.to)} now"
        else:
            summary = f"Twilio refused the message to {mask_phone(message.to)}"
        detail = self._scrub(text or "", message)
        return GatewayError(
            f"{summary} (HTTP {status}, code {provider_code or '-'}){_ref(message)}"
            + (f": {detail}" if detail else ""),
            kind=kind,
            code=provider_code or f"http-{status}",
            retry_after=retry_after,
            http_status=status,
        )

    def _scrub(self, text: str, message: OutgoingSms) -> str:
        # Twilio echoes the recipient in messages such as 21211's: mask it for the logs.
        text = text.removeprefix("Unable to create record: ").strip()
        text = text.replace(message.to, mask_phone(message.to))
        return text.replace(self._auth_token, "***")

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __repr__(self) -> str:
        return f"<TwilioGateway {self._client.account_sid}>"


def _ref(message: OutgoingSms) -> str:
    return f" [ref {message.reference}]" if message.reference else ""


def _reason(exc: BaseException) -> str:
    """Name the root cause (refused, reset, remote closed) without URLs or request objects."""
    # requests nests it a few levels deep: in __cause__, urllib3's .reason, or the args.
    root, seen = exc, set()
    while id(root) not in seen:
        seen.add(id(root))
        inner = [root.__cause__, getattr(root, "reason", None), *root.args]
        found = next((e for e in inner if isinstance(e, BaseException)), None)
        if found is None:
            break
        root = found
    return type(root).__name__
