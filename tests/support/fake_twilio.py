"""A fake Twilio Messages API: a real HTTP server on 127.0.0.1 with fault injection.

Create (POST .../Messages.json), fetch (GET .../Messages/{Sid}.json) and read a page of the
message log (GET .../Messages.json: To, From, DateSent, DateSent<, DateSent>, PageSize, Page,
PageToken; newest first, Twilio's page shape with PageToken cursors in next_page_uri).
"""

from __future__ import annotations

import base64
import json
import math
import queue
import re
import socket
import ssl
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
MAX_BODY = 1600
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_CREATE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_LIST = _CREATE  # the same path, read with GET
_FETCH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")

# GSM-7 basic set and the extension characters that cost two septets.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")

# Read Multiple Message resources: the default and the largest PageSize.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")

_MESSAGES = {
    20001: "Invalid parameter",  # the fake's code for a bad list parameter
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number {to} is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable via SMS.",
    21614: "'To' number {to} is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30006: "Landline or unreachable carrier",
}


def count_segments(body: str) -> int:
    """Roughly count SMS segments: GSM-7 160/153 septets, else UCS-2 70/67 code units."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else math.ceil(units / part)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]
    at: float
    client: tuple[str, int] = ("", 0)  # the connection's address and port


@dataclass(frozen=True)
class _Stored:
    """When a message was created (full precision) and in which order: the log's sort key."""

    created_at: datetime
    seq: int


@dataclass(frozen=True)
class _ListQuery:
    """A parsed list request."""

    to: str | None
    sender: str | None
    sent_on: date | None
    sent_before: date | datetime | None
    sent_after: date | datetime | None
    page_size: int
    page: int
    token: tuple[Literal["after", "before"], str] | None  # PA<sid> / PB<sid>
    filters: dict[str, str]  # the filter parameters as given, for the page URIs


class _BadQuery(ValueError):
    pass


@dataclass
class _Failure:
    status: int
    code: int | None
    retry_after: float | None = None
    plain_text: bool = False


class FakeTwilio:
    """A local HTTP server that speaks enough of Twilio's Messages API for gateway tests."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        send_status_callbacks: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.send_status_callbacks = send_status_callbacks
        self._tls = tls  # a server context: answer on https:// (its certificate's address)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self._stored: dict[str, _Stored] = {}
        self._seq = 0
        self._queue_for = 0.0
        self._fail_list: list[_Failure] = []
        self._fail_next: list[_Failure] = []
        self._fail_numbers: dict[str, int] = {}
        self._fail_number_times: dict[str, list[_Failure]] = {}
        self._fail_delivery: dict[str, int] = {}
        self._latency = 0.0
        self._hang: list[float] = []
        self._drop = 0
        self._callbacks: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Bind an ephemeral port and serve from a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        serve = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        serve.start()
        self._threads = [serve]
        if self.send_status_callbacks:
            sender = threading.Thread(target=self._callback_loop, daemon=True)
            sender.start()
            self._threads.append(sender)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._callbacks.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Origin to give the SDK instead of https://api.twilio.com."""
        assert self._server is not None, "FakeTwilio is not started"
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    # -- what happened -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message resource, in creation order, as a fetch would show it."""
        now = datetime.now(UTC)
        with self._lock:
            return [self._view(sid, now) for sid in self._messages]

    @property
    def list_requests(self) -> int:
        """How many GET .../Messages.json (list) requests arrived, answered or refused."""
        with self._lock:
            return sum(
                1 for r in self._requests if r.method == "GET" and _LIST.match(r.path) is not None
            )

    # -- the message log ---------------------------------------------------------------------

    def add_message(
        self,
        to: str,
        body: str,
        *,
        sender: str | None = None,
        service: str | None = None,
        created_at: datetime,
        sent_at: datetime | None = None,
        direction: str = "outbound-api",
    ) -> str:
        """Put a message straight into the log (no validation, no callbacks); its sid.

        `created_at` (naive means UTC) is its date_created and its place in the log; with
        `sent_at` it is `sent` with that date_sent, else queued/accepted like a new one. An
        inbound message (direction "inbound") is `received`, date_sent = sent_at or created_at.
        """
        if not sender and not service:
            raise ValueError("add_message needs a sender or a service, as Twilio does")
        message = self._new_message(to, body, sender or "", service or "", created_at=created_at)
        inbound = not direction.startswith("outbound")
        if inbound:
            sent_at = sent_at or created_at
        if sent_at is not None or direction != "outbound-api":
            with self._lock:
                stored = self._messages[message["sid"]]
                stored["direction"] = direction
                if sent_at is not None:
                    stored["status"] = "received" if inbound else "sent"
                    stored["date_sent"] = format_datetime(_utc(sent_at).replace(microsecond=0))
        return str(message["sid"])

    def queue_for(self, seconds: float) -> None:
        """Report messages queued/accepted, date_sent null, for `seconds` after creation,
        then `sent` with date_sent = creation + seconds (on fetch, list and `messages`).

        0, the default, keeps them queued/accepted with a null date_sent forever.
        """
        if seconds < 0:
            raise ValueError("queue_for takes a number of seconds >= 0")
        with self._lock:
            self._queue_for = float(seconds)

    def count_to(self, number: str) -> int:
        """How many messages to `number` were accepted."""
        with self._lock:
            return sum(1 for m in self._messages.values() if m["to"] == number)

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        code: int | None = 20429,
        retry_after: float | None = None,
        *,
        plain_text: bool = False,
    ) -> None:
        """Fail the next n create calls with this status and code (plain_text: no JSON body)."""
        with self._lock:
            self._fail_next.extend(
                _Failure(status, code, retry_after, plain_text) for _ in range(n)
            )

    def fail_numbers(self, codes: dict[str, int]) -> None:
        """Refuse every message to these numbers with HTTP 400 and the given code."""
        with self._lock:
            self._fail_numbers.update(codes)

    def fail_number_times(
        self, number: str, n: int, status: int = 503, code: int | None = None
    ) -> None:
        """Fail the next n messages to `number`, then accept them."""
        with self._lock:
            self._fail_number_times.setdefault(number, []).extend(
                _Failure(status, code) for _ in range(n)
            )

    def fail_delivery(self, codes: dict[str, int]) -> None:
        """Accept messages to these numbers, then report them undelivered with the code."""
        with self._lock:
            self._fail_delivery.update(codes)

    def fail_list_next(
        self,
        n: int = 1,
        status: int = 429,
        code: int | None = 20429,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next n list requests with this status, a JSON error and Retry-After."""
        with self._lock:
            self._fail_list.extend(_Failure(status, code, retry_after) for _ in range(n))

    def latency(self, seconds: float) -> None:
        """Sleep this long before answering each request."""
        with self._lock:
            self._latency = seconds

    def hang_next(self, n: int, seconds: float) -> None:
        """Make the next n create calls answer (successfully) only after `seconds`."""
        with self._lock:
            self._hang.extend([seconds] * n)

    def drop_connection_next(self, n: int = 1) -> None:
        """Close the socket without answering the next n create calls."""
        with self._lock:
            self._drop += n

    # -- request handling (called from server threads) ---------------------------------------

    def _record(self, request: RecordedRequest) -> float:
        with self._lock:
            self._requests.append(request)
            return self._latency

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    def _take_transport_fault(self) -> tuple[str, float] | None:
        with self._lock:
            if self._drop:
                self._drop -= 1
                return ("drop", 0.0)
            if self._hang:
                return ("hang", self._hang.pop(0))
            return None

    def _create(self, form: dict[str, str]) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        with self._lock:
            failure = self._fail_next.pop(0) if self._fail_next else None
        if failure is not None:
            return _failure_response(failure)

        to = form.get("To", "")
        body = form.get("Body", "")
        sender = form.get("From", "")
        service = form.get("MessagingServiceSid", "")
        if not to:
            return _error(400, 21604)
        if not body:
            return _error(400, 21602)
        if not sender and not service:
            return _error(400, 21603)
        if not _E164.match(to):
            return _error(400, 21211, to=to)
        if len(body) > MAX_BODY:
            return _error(400, 21617)

        with self._lock:
            permanent = self._fail_numbers.get(to)
            pending = self._fail_number_times.get(to)
            transient = pending.pop(0) if pending else None
        if permanent is not None:
            return _error(400, permanent, to=to)
        if transient is not None:
            return _failure_response(transient)

        message = self._new_message(to, body, sender, service)
        callback = form.get("StatusCallback")
        if self.send_status_callbacks and callback:
            self._queue_callbacks(callback, message)
        return 201, message, {}

    def _new_message(
        self, to: str, body: str, sender: str, service: str, created_at: datetime | None = None
    ) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        created = _utc(created_at) if created_at is not None else datetime.now(UTC)
        now = format_datetime(created.replace(microsecond=0))  # RFC 2822, as Twilio
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # Through a Messaging Service Twilio picks the sender later and says "accepted".
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        with self._lock:
            self._messages[sid] = message
            self._seq += 1
            self._stored[sid] = _Stored(created, self._seq)
            return dict(message)

    def _view(self, sid: str, now: datetime) -> dict[str, Any]:
        """The message as a read shows it at `now` (with the lock held): see queue_for."""
        message = dict(self._messages[sid])
        if self._queue_for > 0 and message["date_sent"] is None:
            sent = self._stored[sid].created_at + timedelta(seconds=self._queue_for)
            if sent <= now:
                sent_at = format_datetime(sent.replace(microsecond=0))
                message["date_sent"] = message["date_updated"] = sent_at
                if message["status"] in ("queued", "accepted"):
                    message["status"] = "sent"
        return message

    def _fetch(self, sid: str) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        now = datetime.now(UTC)
        with self._lock:
            if sid in self._messages:
                return 200, self._view(sid, now), {}
        return _error(404, 20404)

    def _list(self, params: dict[str, str]) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        with self._lock:
            failure = self._fail_list.pop(0) if self._fail_list else None
        if failure is not None:
            return _failure_response(failure)
        try:
            query = _parse_list_query(params)
        except _BadQuery as exc:
            return _error(400, 20001, message=str(exc))

        now = datetime.now(UTC)
        with self._lock:
            keys = {sid: (s.created_at, s.seq) for sid, s in self._stored.items()}
            # To and From never change: filter on them before building views of the rest.
            candidates = [
                sid
                for sid, m in self._messages.items()
                if (query.to is None or m["to"] == query.to)
                and (query.sender is None or m["from"] == query.sender)
            ]
            candidates.sort(key=keys.__getitem__, reverse=True)
            views = (self._view(sid, now) for sid in candidates)
            matching = [view for view in views if _matches(view, query)]

        size = query.page_size
        if query.token is None:
            start = query.page * size
        else:
            direction, sid = query.token
            if sid not in keys:
                return _error(400, 20001, message=f"Invalid PageToken {params['PageToken']!r}")
            mark = keys[sid]
            if direction == "after":  # the page after the one that ended with `sid`
                start = sum(1 for m in matching if keys[m["sid"]] >= mark)
            else:  # the page before the one that began with `sid`
                start = max(0, sum(1 for m in matching if keys[m["sid"]] > mark) - size)
        page = matching[start : start + size]

        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def uri(page_number: int, token: str | None = None) -> str:
            paging: dict[str, str | int] = {"PageSize": size, "Page": page_number}
            if token is not None:
                paging["PageToken"] = token
            return f"{path}?{urlencode({**query.filters, **paging})}"

        more = start + size < len(matching)
        return (
            200,
            {
                "end": start + max(len(page) - 1, 0),
                "first_page_uri": uri(0),
                "messages": page,
                "next_page_uri": uri(query.page + 1, "PA" + page[-1]["sid"])
                if more and page
                else None,
                "page": query.page,
                "page_size": size,
                "previous_page_uri": uri(max(query.page - 1, 0), "PB" + page[0]["sid"])
                if start > 0 and page
                else None,
                "start": start,
                "uri": uri(query.page, params.get("PageToken") or None),
            },
            {},
        )

    # -- status callbacks --------------------------------------------------------------------

    def _queue_callbacks(self, url: str, message: dict[str, Any]) -> None:
        with self._lock:
            failure = self._fail_delivery.get(message["to"])
        final = "undelivered" if failure else "delivered"
        for status in ("sent", final):
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": message["from"] or "+15005550006",
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "SmsSid": message["sid"],
                "SmsStatus": status,
                "To": message["to"],
            }
            if message["messaging_service_sid"]:
                params["MessagingServiceSid"] = message["messaging_service_sid"]
            if failure and status == final:
                params["ErrorCode"] = str(failure)
            self._callbacks.put((url, params))

    def _callback_loop(self) -> None:
        validator = RequestValidator(self.auth_token)
        while (item := self._callbacks.get()) is not None:
            url, params = item
            with self._lock:
                stored = self._messages.get(params["MessageSid"])
                if stored is not None:
                    stored["status"] = params["MessageStatus"]
                    stored["error_code"] = (
                        int(params["ErrorCode"]) if "ErrorCode" in params else None
                    )
            request = urllib.request.Request(
                url,
                data=urlencode(params).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": validator.compute_signature(url, params),
                    "User-Agent": "TwilioProxy/1.1",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    answer.read()
            except OSError:
                # Twilio gives up quietly on an unreachable callback URL; so does the fake.
                pass


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadQuery(f"Invalid {name}: {raw!r} is not an integer") from None
    if not low <= value <= high:
        raise _BadQuery(f"Invalid {name}: {value} is not between {low} and {high}")
    return value


def _moment_param(params: dict[str, str], name: str) -> date | datetime | None:
    """A DateSent value: a day (YYYY-MM-DD), an ISO 8601 or an RFC 2822 datetime (UTC)."""
    raw = params.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise _BadQuery(f"Invalid {name}: {raw!r}") from None
    try:
        return _utc(datetime.fromisoformat(raw))
    except ValueError:
        pass
    try:
        return _utc(parsedate_to_datetime(raw))
    except (TypeError, ValueError):
        raise _BadQuery(f"Invalid {name}: {raw!r} is neither a date nor a datetime") from None


def _parse_list_query(params: dict[str, str]) -> _ListQuery:
    on = _moment_param(params, "DateSent")
    token: tuple[Literal["after", "before"], str] | None = None
    raw_token = params.get("PageToken")
    if raw_token:
        if raw_token[:2] not in ("PA", "PB") or len(raw_token) <= 2:
            raise _BadQuery(f"Invalid PageToken {raw_token!r}")
        token = ("after" if raw_token[:2] == "PA" else "before", raw_token[2:])
    return _ListQuery(
        to=params.get("To"),
        sender=params.get("From"),
        # A datetime given for the day filter stands for its (UTC) day, as the SDK sends one.
        sent_on=on.date() if isinstance(on, datetime) else on,
        sent_before=_moment_param(params, "DateSent<"),
        sent_after=_moment_param(params, "DateSent>"),
        page_size=_int_param(params, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        page=_int_param(params, "Page", 0, 0, 10**9),
        token=token,
        filters={name: params[name] for name in _FILTERS if name in params},
    )


def _matches(message: dict[str, Any], query: _ListQuery) -> bool:
    """Whether a message (as read) passes the filters; DateSent never matches a null date_sent."""
    if query.to is not None and message["to"] != query.to:
        return False
    if query.sender is not None and message["from"] != query.sender:
        return False
    if query.sent_on is None and query.sent_before is None and query.sent_after is None:
        return True
    if message["date_sent"] is None:
        return False  # queued or accepted: no send date yet, so no DateSent filter finds it
    sent = _utc(parsedate_to_datetime(message["date_sent"]))
    if query.sent_on is not None and sent.date() != query.sent_on:
        return False
    before, after = query.sent_before, query.sent_after
    if isinstance(before, datetime) and sent > before:
        return False
    if before is not None and not isinstance(before, datetime) and sent.date() > before:
        return False
    if isinstance(after, datetime) and sent < after:
        return False
    return not (after is not None and not isinstance(after, datetime) and sent.date() < after)


def _error(
    status: int,
    code: int | None,
    *,
    to: str = "",
    retry_after: float | None = None,
    message: str | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    text = message or _MESSAGES.get(code or 0, HTTPStatus(status).phrase).format(to=to)
    payload = {
        "code": code,
        "message": text,
        "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None,
        "status": status,
    }
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return status, payload, headers


def _failure_response(failure: _Failure) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    status, payload, headers = _error(failure.status, failure.code, retry_after=failure.retry_after)
    if failure.plain_text:
        return status, HTTPStatus(status).phrase, headers
    return status, payload, headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # dozens of client threads connect at once
    fake: FakeTwilio

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on hung or dropped requests by design; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API, so client pools matter
    # Headers and body leave in separate writes; with Nagle's algorithm the body waits for
    # the client's delayed ACK, adding ~40 ms to every answer, which no real API does.
    disable_nagle_algorithm = True
    server: _Server
    timeout = 30  # idle keep-alive connections do not hold threads forever

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else split.query
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        request = RecordedRequest(
            self.command,
            split.path,
            form,
            dict(self.headers.items()),
            time.time(),
            tuple(self.client_address[:2]),
        )
        delay = fake._record(request)
        if delay:
            time.sleep(delay)

        if not fake._authorised(self.headers.get("Authorization")):
            self._answer(
                *_error(401, 20003), extra={"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
            return
        create = _CREATE.match(split.path) if self.command == "POST" else None
        fetch = _FETCH.match(split.path) if self.command == "GET" else None
        listing = _LIST.match(split.path) if self.command == "GET" else None
        match = create or fetch or listing
        if match is None or match["account"] != fake.account_sid:
            self._answer(*_error(404, 20404))
            return
        if fetch is not None:
            self._answer(*fake._fetch(fetch["sid"]))
            return
        if listing is not None:
            self._answer(*fake._list(form))
            return

        fault = fake._take_transport_fault()
        if fault is not None and fault[0] == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None:
            time.sleep(fault[1])
        self._answer(*fake._create(form))

    def _answer(
        self,
        status: int,
        payload: dict[str, Any] | str,
        headers: dict[str, str],
        extra: dict[str, str] | None = None,
    ) -> None:
        if isinstance(payload, str):
            data, content_type = payload.encode(), "text/plain"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in {**headers, **(extra or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up (timeout) before the answer: nothing to tell it.
            self.close_connection = True
