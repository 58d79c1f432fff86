"""Twilio's webhooks: /sms/inbound answers a resident's text, /sms/status records receipts.

Nothing is read or acted on before the request carries Twilio's valid signature, and nothing
is read that Twilio would not send: the headers are checked before the body (no signature,
a body of unknown or excessive length, another encoding than a plain form: refused), the
body is read within a bound and parsed with limits, and once signed, the provider's fields
must have Twilio's formats. That last check matters because the signature joins names and
values without separators: a captured request whose field boundaries are shifted (a field
dropped and its text appended to MessageSid) keeps its signature.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from alerts.core.phones import mask_phone
from alerts.errors import InvalidInput
from alerts.public.xml_text import xml_text
from alerts.sending.delivery_status import record_status
from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import MAX_BODY_CHARS, MAX_SENDER_CHARS, InboundSms, TurnOutcome
from alerts.wiring import Services

log = logging.getLogger(__name__)
TWIML = "application/xml"
FORM = "application/x-www-form-urlencoded"
# Twilio never sends more; anything larger is not Twilio and is not worth reading.
MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 100  # an inbound MMS with ten media and every optional field has about 60
SIGNATURE = "x-twilio-signature"
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
_SID_FIELDS = ("MessageSid", "SmsSid", "SmsMessageSid")  # one message: one SID, if several
_STATUS = re.compile(r"[A-Za-z_]{1,32}")
_ERROR_CODE = re.compile(r"[0-9]{0,16}")
_OPT_OUT_TYPE = re.compile(r"[A-Za-z]{1,16}")


class Refused(Exception):
    """A webhook request answered with an error status, nothing done."""

    def __init__(self, status: int, reason: str, *, unread: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.unread = unread  # the body was left unread: the connection cannot be reused

    def response(self) -> Response:
        """The plain-text answer (closing the connection rather than draining a body)."""
        headers = {"Connection": "close"} if self.unread else None
        return Response(f"{self.reason}\n", self.status, headers, media_type="text/plain")


def webhooks_router(services: Services) -> APIRouter:
    """Routes /sms/inbound and /sms/status, both refused without a valid signature."""
    router = APIRouter()
    token = services.settings.twilio.auth_token.get_secret_value()
    validator = RequestValidator(token) if token else None
    public_url = services.settings.service.public_url
    account = services.settings.twilio.account_sid
    # SQLite takes one writer at a time: handing each turn to a thread pool only adds thread
    # switches (and GIL convoys under load). PostgreSQL turns run side by side in threads, and
    # so do turns that may wait on the online geocoder: the event loop must keep answering.
    inline = services.engine.dialect.name == "sqlite" and services.online_geocoder is None
    if validator is None:
        log.warning("TWILIO_AUTH_TOKEN is not set: every webhook request will be refused")
    elif not public_url:
        log.warning(
            "service.public_url is not set: webhook signatures are checked against the host "
            "each request names (set ALERTS_PUBLIC_URL)"
        )

    async def provider_form(request: Request) -> dict[str, str]:
        """The fields of a request Twilio signed, in Twilio's formats; else Refused."""
        refuse_before_reading(request)
        fields = parse_form(await read_body(request))
        signature = request.headers.get(SIGNATURE, "")
        url = _signed_url(request, public_url)
        if validator is None or not validator.validate(url, fields, signature):
            raise Refused(403, "forbidden")
        check_provider_fields(fields, account)
        return fields

    @router.post("/sms/inbound")
    async def inbound(request: Request) -> Response:
        try:
            fields = await provider_form(request)
            if "From" not in fields:
                raise Refused(400, "no From")
            sms = _inbound_sms(fields).checked()
        except Refused as refused:
            return refused.response()
        except InvalidInput as invalid:
            return Refused(400, str(invalid)).response()
        if inline:
            outcome = _answer(services, sms)
        else:
            outcome = await run_in_threadpool(_answer, services, sms)
        return Response(_twiml(outcome.reply), media_type=TWIML)

    @router.post("/sms/status")
    async def status(request: Request) -> Response:
        try:
            fields = await provider_form(request)
            state = fields.get("MessageStatus") or fields.get("SmsStatus", "")
            if not _STATUS.fullmatch(state):
                raise Refused(400, "MessageStatus is missing or malformed")
        except Refused as refused:
            return refused.response()
        await run_in_threadpool(_record_status, services, fields)
        return Response(status_code=204)

    return router


def refuse_before_reading(request: Request) -> None:
    """Refused for a request whose headers already say it is not Twilio's: no signature
    (403), not a plain form (415; a multipart upload in particular, which Starlette would
    spool to disk), a body of unknown length (411) or over MAX_FORM_BYTES (413)."""
    headers = request.headers
    if not headers.get(SIGNATURE):
        raise Refused(403, "forbidden", unread=True)
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != FORM:
        raise Refused(415, f"the body must be {FORM}", unread=True)
    if "transfer-encoding" in headers:
        raise Refused(411, "a Content-Length is required", unread=True)
    length = headers.get("content-length")
    if length is None:
        raise Refused(411, "a Content-Length is required", unread=True)
    if not length.isascii() or not length.isdigit() or len(length) > 12:
        raise Refused(400, "malformed Content-Length", unread=True)
    if int(length) > MAX_FORM_BYTES:
        raise Refused(413, f"the body may not exceed {MAX_FORM_BYTES} bytes", unread=True)


async def read_body(request: Request) -> bytes:
    """The body, never more than its Content-Length (at most MAX_FORM_BYTES, checked before)."""
    declared = min(int(request.headers["content-length"]), MAX_FORM_BYTES)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > declared:
                raise Refused(413, "the body exceeds its Content-Length", unread=True)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "the body was cut short") from None
    return b"".join(chunks)


def parse_form(body: bytes) -> dict[str, str]:
    """A form's fields, at most MAX_FIELDS, each named once; Refused (400) for anything else."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError included
        raise Refused(400, "malformed form") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise Refused(400, "a field is repeated")
    if not all(_FIELD_NAME.fullmatch(name) for name in fields):
        raise Refused(400, "malformed field name")
    return fields


def check_provider_fields(fields: Mapping[str, str], account: str) -> None:
    """Refused (400) unless the fields have the formats Twilio gives them: one SID of
    SM/MM and 32 hex digits, the AccountSid of this account, numbers and a text that fit."""
    sids = {fields[name] for name in _SID_FIELDS if name in fields}
    if len(sids) != 1 or not _MESSAGE_SID.fullmatch(next(iter(sids))):
        raise Refused(400, "MessageSid is missing or malformed")
    sender = fields.get("AccountSid", "")
    if not _ACCOUNT_SID.fullmatch(sender) or (account and sender != account):
        raise Refused(400, "AccountSid is missing, malformed or not this account's")
    for name in ("From", "To"):
        if len(fields.get(name, "")) > MAX_SENDER_CHARS:
            raise Refused(400, f"{name} is longer than {MAX_SENDER_CHARS} characters")
    if len(fields.get("Body", "")) > MAX_BODY_CHARS:
        raise Refused(400, f"Body is longer than {MAX_BODY_CHARS} characters")
    opt_out = fields.get("OptOutType", "")
    if opt_out and not _OPT_OUT_TYPE.fullmatch(opt_out):
        raise Refused(400, "malformed OptOutType")
    if not _ERROR_CODE.fullmatch(fields.get("ErrorCode", "")):
        raise Refused(400, "malformed ErrorCode")


def _inbound_sms(fields: Mapping[str, str]) -> InboundSms:
    return InboundSms(
        sender=fields.get("From", ""),
        body=fields.get("Body", ""),
        message_sid=_message_sid(fields),
        to=fields.get("To", ""),
        opt_out_type=fields.get("OptOutType") or None,
    )


def _message_sid(fields: Mapping[str, str]) -> str:
    return next((fields[name] for name in _SID_FIELDS if fields.get(name)), "")


def _answer(services: Services, sms: InboundSms) -> TurnOutcome:
    """The conversation's outcome; a crash still answers the resident helpfully."""
    try:
        return handle_inbound(services, sms)
    except Exception as exc:
        # Without the exception's message: a database error may quote the text or the number.
        log.error(
            "inbound %s from %s failed: %s", sms.message_sid, mask_phone(sms.sender), _failure(exc)
        )
        lang = services.settings.service.default_lang
        return TurnOutcome(services.replies.text(lang, "error"), "error")


def _failure(exc: BaseException) -> str:
    """An exception's class, those of its causes, and where it was raised: no message."""
    chain: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 5:
        chain.append(f"{type(cause).__module__}.{type(cause).__qualname__}")
        cause = cause.__cause__ or cause.__context__
    stack = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    return f"{' <- '.join(chain)}\n{stack}"


def _record_status(services: Services, fields: Mapping[str, str]) -> None:
    state = fields.get("MessageStatus") or fields.get("SmsStatus", "")
    record_status(services, _message_sid(fields), state, fields.get("ErrorCode") or None)


def _signed_url(request: Request, public_url: str) -> str:
    """The URL Twilio signed: the public address when behind a proxy, else the request's."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url}{request.url.path}{query}"


def _twiml(reply: str | None) -> str:
    response = MessagingResponse()
    if reply:
        # The reply may quote data (a zone name): TwiML is XML, whatever the data holds.
        response.message(xml_text(reply))
    return str(response)
