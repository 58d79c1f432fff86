"""The Twilio gateway: the only module that imports twilio.rest; wraps every failure it sees.

Sends go through the SDK's asynchronous client (aiohttp): the dispatcher's slots are tasks on
one event loop, which costs far less CPU per message than a thread per slot over requests.
The SDK's client ignores HTTPS_PROXY; ours sends every request (sends and log look-ups) the
way the configured outbound proxy says (alerts.gateways.outbound_proxy).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from alerts.core.phones import mask_phone
from alerts.errors import ConfigError
from alerts.gateways.gateway import ErrorKind, GatewayError, OutgoingSms, SendReceipt, classify
from alerts.gateways.outbound_proxy import OutboundProxy

log = logging.getLogger(__name__)

MAX_VALIDITY_PERIOD = 36_000  # seconds; Twilio's ceiling for ValidityPeriod
# The proxy asked for credentials it did not get: no message can leave until they are fixed.
PROXY_AUTH_CODE = "proxy-auth"
# A log look-up reads at most this many messages to one number (newest first).
LOG_PAGE_SIZE = 100
LOG_MAX_PAGES = 10
# What a request to Twilio may raise; each is wrapped in a GatewayError.
_FAILURES = (
    TwilioRestException,
    TwilioServiceException,
    TimeoutError,
    aiohttp.ClientError,
    TwilioException,
    ValueError,
)

# Headers of the last response seen by the running task: TwilioRestException drops them, and
# Retry-After lives there. Each dispatcher slot is a task of its own, with its own value.
_last_headers: ContextVar[Mapping[str, str] | None] = ContextVar("last_headers", default=None)


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


class _HttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client on our session, with our timeout and outbound proxy,
    remembering headers."""

    def __init__(
        self, session: aiohttp.ClientSession, timeout: float, proxy: OutboundProxy
    ) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.session = session
        self._proxy = proxy

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        # The SDK passes timeout=None on every call, which aiohttp takes as "no timeout": the
        # client's own timeout would otherwise never apply. Credentials go in the header,
        # as aiohttp now asks (its BasicAuth is deprecated). The SDK's own request() would
        # pass no proxy to aiohttp, whatever its proxy_url says: this one does.
        if auth is not None:
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": url,
            "params": params,
            "data": data,
            "headers": headers,
            "timeout": aiohttp.ClientTimeout(total=timeout or self.timeout),
            "allow_redirects": allow_redirects,
        }
        self.log_request(kwargs)
        route = self._proxy.route(url)
        if route is not None:
            kwargs["proxy"] = route.url
            # aiohttp puts proxy_headers on the CONNECT of an https:// request only; a
            # request forwarded to an http:// address carries the proxy's header itself.
            if url.startswith("https:"):
                kwargs["proxy_headers"] = route.headers
            else:
                kwargs["headers"] = {**(headers or {}), **route.headers}
        async with self.session.request(**kwargs) as answer:
            self.log_response(answer.status, answer)
            response = Response(answer.status, await answer.text(), answer.headers)
        _last_headers.set(response.headers)
        return response


@dataclass
class _LoopClient:
    """One event loop's connections: an aiohttp session and the SDK's Messages list on it."""

    session: aiohttp.ClientSession
    messages: Any


class TwilioGateway:
    """Sends SMS through Twilio's Messages API with the official SDK's asynchronous client.

    Event loops in several threads may share one gateway: each loop gets its own aiohttp
    session (connections belong to the loop that opened them), made on its first send and
    closed by `aclose` on that loop.
    """

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
        proxy: OutboundProxy | None = None,
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

        self.account_sid = account_sid
        self._auth_token = auth_token
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._status_callback = status_callback
        self._validity_period = validity_period
        self._api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self._timeout = timeout
        self._pool_size = pool_size
        self._proxy = proxy or OutboundProxy()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopClient] = {}
        self._lock = threading.Lock()

    def _client_for_this_loop(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._loops.get(loop)
            if found is None:
                found = self._loops[loop] = self._open()
            return found

    def _open(self) -> _LoopClient:
        # At most pool_size connections, reused (the dispatcher has as many slots); no proxy,
        # CA bundle or .netrc from the environment: settings are read only by alerts.config,
        # the outbound proxy included.
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size), trust_env=False
        )
        http_client = _HttpClient(session, self._timeout, self._proxy)
        client = Client(self.account_sid, self._auth_token, http_client=http_client)
        # The SDK reads TWILIO_EDGE/TWILIO_REGION from os.environ; settings are read only by
        # alerts.config, and an edge would also rewrite a local api_base_url's host name.
        client.edge = None
        client.region = None
        if self._api_base_url is not None:
            # Messages live on the "api" domain; its base_url is the origin every request
            # of that domain is built from, so this redirects only what we use.
            client.api.base_url = self._api_base_url
        return _LoopClient(session, client.api.v2010.account.messages)

    def _params(self, message: OutgoingSms) -> dict[str, Any]:
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        if self._from_number:
            params["from_"] = self._from_number
        else:
            params["messaging_service_sid"] = self._messaging_service_sid
        if self._status_callback:
            params["status_callback"] = self._status_callback
        if self._validity_period is not None:
            params["validity_period"] = self._validity_period
        return params

    async def send(self, message: OutgoingSms) -> SendReceipt:
        """Create one Message resource; raise GatewayError for every kind of failure."""
        messages = self._client_for_this_loop().messages
        _last_headers.set(None)
        # Errors are built inside the except clause but raised outside it, so the SDK or
        # aiohttp exception (whose request carries the Authorization header) is neither the
        # __cause__ nor the __context__ of what escapes.
        error: GatewayError | None = None
        try:
            created = await messages.create_async(**self._params(message))
        except _FAILURES as exc:
            error = self._wrap(exc, message)
        if error is not None:
            raise error
        return self._receipt(message, created)

    async def find_sent(
        self, to: str, body: str, since: datetime, exclude: frozenset[str] = frozenset()
    ) -> SendReceipt | None:
        """Look in Twilio's message log for this text to `to`, created since `since`.

        Lists the messages to that number from our sender, newest first, page by page until
        one older than `since`. No `DateSent` filter: Twilio keeps a message it paces
        `queued`, without a send date, sometimes for hours. Matched on the body, the
        creation time, the direction and our sender (number or Messaging Service).
        """
        messages = self._client_for_this_loop().messages
        probe = OutgoingSms(to, body, reference="log look-up")
        _last_headers.set(None)
        error: GatewayError | None = None
        found: SendReceipt | None = None
        try:
            found = await self._search(messages, to, body, since, exclude)
        except _FAILURES as exc:
            error = self._wrap(exc, probe)
        if error is not None:
            raise error
        return found

    async def _search(
        self, messages: Any, to: str, body: str, since: datetime, exclude: frozenset[str]
    ) -> SendReceipt | None:
        # Twilio's creation times have whole seconds: compare at that precision.
        since = (since if since.tzinfo else since.replace(tzinfo=UTC)).replace(microsecond=0)
        filters: dict[str, Any] = {"to": to, "page_size": LOG_PAGE_SIZE}
        if self._from_number:
            filters["from_"] = self._from_number
        page = await messages.page_async(**filters)
        for number in range(1, LOG_MAX_PAGES + 1):
            for record in page:
                created = record.date_created
                if created is not None and created < since:
                    return None  # newest first: everything after this is older still
                if record.sid not in exclude and self._ours(record, body):
                    return self._receipt(OutgoingSms(to, body), record)
            if number == LOG_MAX_PAGES:
                break
            page = await page.next_page_async()
            if page is None:
                return None
        raise GatewayError(
            f"Twilio's log holds more than {LOG_MAX_PAGES * LOG_PAGE_SIZE} messages to "
            f"{mask_phone(to)} since {since:%Y-%m-%d %H:%M} UTC: not searched further",
            kind=ErrorKind.OTHER,
            code="log-too-long",
        )

    def _ours(self, record: Any, body: str) -> bool:
        """A message we sent with this body: outbound, from our number or service."""
        if record.body != body or not str(record.direction or "").startswith("outbound"):
            return False
        if self._messaging_service_sid:
            return bool(record.messaging_service_sid == self._messaging_service_sid)
        return bool(record.from_ == self._from_number)

    def _wrap(self, exc: BaseException, message: OutgoingSms) -> GatewayError:
        """The GatewayError a failure of the SDK or of the connection stands for."""
        if isinstance(exc, TwilioRestException):
            return self._rest_error(message, exc.status, exc.code, exc.msg)
        if isinstance(exc, TwilioServiceException):
            return self._rest_error(message, exc.status, exc.code, exc.detail or exc.title)
        if isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy refused the tunnel
            return self._proxy_error(message, exc.status)
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return GatewayError(
                f"could not reach the outbound proxy {exc.host}:{exc.port} "
                f"({_reason(exc)}){_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="connection",
            )
        if isinstance(exc, TimeoutError):  # aiohttp's own timeout errors derive from it too
            return GatewayError(
                f"Twilio did not answer within {self._timeout:g} s{_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="timeout",
            )
        if isinstance(exc, aiohttp.ClientConnectionError):
            return GatewayError(
                f"could not reach Twilio ({_reason(exc)}){_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="connection",
            )
        if isinstance(exc, aiohttp.ClientError):
            # A garbled or truncated answer: the message may or may not have been accepted.
            return GatewayError(
                f"broken answer from Twilio ({type(exc).__name__}){_ref(message)}",
                kind=ErrorKind.RETRYABLE,
                code="connection",
            )
        page = _refused_page(exc)
        if page is not None:
            status, code, text = page
            return self._rest_error(message, status, code, text)
        # TwilioException, or a ValueError for a 2xx whose body is not JSON.
        return GatewayError(
            f"unexpected answer from Twilio ({type(exc).__name__}){_ref(message)}",
            kind=ErrorKind.OTHER,
        )

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
        if status == 407:  # from the proxy, which forwarded nothing
            return self._proxy_error(message, status)
        # Without a JSON error body the SDK puts the HTTP status in `code`; Twilio's own
        # codes have five digits, so a three-digit code is never a provider code.
        provider_code = None if code is None or str(code) == str(status) else str(code)
        kind = classify(status, provider_code)
        headers = _last_headers.get()
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

    def _proxy_error(self, message: OutgoingSms, status: int) -> GatewayError:
        """The outbound proxy answered instead of Twilio: nothing reached Twilio."""
        if status == 407:
            return GatewayError(
                "the outbound proxy refused the credentials (HTTP 407): check the user and "
                f"password in HTTPS_PROXY (twilio.https_proxy){_ref(message)}",
                kind=ErrorKind.OTHER,
                code=PROXY_AUTH_CODE,
                http_status=status,
            )
        # 403: the proxy's rules forbid Twilio (every send would fail: the worker stops);
        # 502-504: it could not reach Twilio now.
        return GatewayError(
            f"the outbound proxy would not take the request to Twilio (HTTP {status})"
            f"{_ref(message)}",
            kind=classify(status, None),
            code=f"proxy-{status}",
            http_status=status,
        )

    def _scrub(self, text: str, message: OutgoingSms) -> str:
        # Twilio echoes the recipient in messages such as 21211's: mask it for the logs.
        text = text.removeprefix("Unable to create record: ").strip()
        text = text.replace(message.to, mask_phone(message.to))
        return text.replace(self._auth_token, "***")

    async def aclose(self) -> None:
        """Close the running event loop's connections (opened again by the next send)."""
        with self._lock:
            found = self._loops.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.session.close()

    def close(self) -> None:
        """Forget the sessions of loops that ended without `aclose` (their sockets go too)."""
        with self._lock:
            self._loops.clear()

    def __repr__(self) -> str:
        return f"<TwilioGateway {self.account_sid}>"


def _refused_page(exc: BaseException) -> tuple[int, int | str | None, str | None] | None:
    """A list request Twilio refused: the SDK raises TwilioException("Unable to fetch page",
    response) rather than TwilioRestException; its status, code and message, or None."""
    if not isinstance(exc, TwilioException) or len(exc.args) < 2:
        return None
    response = exc.args[1]
    if not isinstance(response, Response):
        return None
    try:
        body = json.loads(response.text or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return response.status_code, None, None
    message = body.get("message")
    return response.status_code, body.get("code"), message if isinstance(message, str) else None


def _ref(message: OutgoingSms) -> str:
    return f" [ref {message.reference}]" if message.reference else ""


def _reason(exc: BaseException) -> str:
    """Name the root cause (refused, reset, remote closed) without URLs or request objects."""
    # It may lie a few levels deep: in __cause__, a .reason, an .os_error or the args.
    root, seen = exc, set()
    while id(root) not in seen:
        seen.add(id(root))
        inner = [
            root.__cause__,
            getattr(root, "reason", None),
            getattr(root, "os_error", None),
            *root.args,
        ]
        found = next((e for e in inner if isinstance(e, BaseException)), None)
        if found is None:
            break
        root = found
    return type(root).__name__
