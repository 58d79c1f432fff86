"""Twilio's webhooks: /sms/inbound answers a resident's text, /sms/status records receipts.

Nothing is read or acted on before the request carries Twilio's valid signature.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from alerts.core.phones import mask_phone
from alerts.sending.delivery_status import record_status
from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import InboundSms, TurnOutcome
from alerts.wiring import Services

log = logging.getLogger(__name__)
TWIML = "application/xml"
# Twilio never sends more; anything larger is not Twilio and is not worth parsing.
MAX_FORM_BYTES = 64 * 1024


def webhooks_router(services: Services) -> APIRouter:
    """Routes /sms/inbound and /sms/status, both refused without a valid signature."""
    router = APIRouter()
    token = services.settings.twilio.auth_token.get_secret_value()
    validator = RequestValidator(token) if token else None
    public_url = services.settings.service.public_url
    # SQLite takes one writer at a time: handing each turn to a thread pool only adds thread
    # switches (and GIL convoys under load). PostgreSQL turns run side by side in threads, and
    # so do turns that may wait on the online geocoder: the event loop must keep answering.
    inline = services.engine.dialect.name == "sqlite" and services.online_geocoder is None
    if validator is None:
        log.warning("TWILIO_AUTH_TOKEN is not set: every webhook request will be refused")

    async def signed_form(request: Request) -> dict[str, str] | None:
        """The form fields if the request carries Twilio's valid signature, else None."""
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return None
        form = await request.form()
        fields = {key: str(value) for key, value in form.items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if validator is None or not signature:
            return None
        url = _signed_url(request, public_url)
        return fields if validator.validate(url, fields, signature) else None

    @router.post("/sms/inbound")
    async def inbound(request: Request) -> Response:
        fields = await signed_form(request)
        if fields is None:
            return _forbidden()
        sms = _inbound_sms(fields)
        if inline:
            outcome = _answer(services, sms)
        else:
            outcome = await run_in_threadpool(_answer, services, sms)
        return Response(_twiml(outcome.reply), media_type=TWIML)

    @router.post("/sms/status")
    async def status(request: Request) -> Response:
        fields = await signed_form(request)
        if fields is None:
            return _forbidden()
        await run_in_threadpool(_record_status, services, fields)
        return Response(status_code=204)

    return router


def _forbidden() -> Response:
    return Response("forbidden\n", status_code=403, media_type="text/plain")


def _inbound_sms(fields: Mapping[str, str]) -> InboundSms:
    return InboundSms(
        sender=fields.get("From", ""),
        body=fields.get("Body", ""),
        message_sid=fields.get("MessageSid") or fields.get("SmsSid", ""),
        to=fields.get("To", ""),
        opt_out_type=fields.get("OptOutType") or None,
    )


def _answer(services: Services, sms: InboundSms) -> TurnOutcome:
    """The conversation's outcome; a crash still answers the resident helpfully."""
    if not sms.message_sid:
        return TurnOutcome(None, "no_sid")
    try:
        return handle_inbound(services, sms)
    except Exception:
        log.exception("inbound %s from %s failed", sms.message_sid, mask_phone(sms.sender))
        lang = services.settings.service.default_lang
        return TurnOutcome(services.replies.text(lang, "error"), "error")


def _record_status(services: Services, fields: Mapping[str, str]) -> None:
    sid = fields.get("MessageSid") or fields.get("SmsSid", "")
    state = fields.get("MessageStatus") or fields.get("SmsStatus", "")
    if sid and state:
        record_status(services, sid, state, fields.get("ErrorCode") or None)


def _signed_url(request: Request, public_url: str) -> str:
    """The URL Twilio signed: the public address when behind a proxy, else the request's."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url}{request.url.path}{query}"


def _twiml(reply: str | None) -> str:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return str(response)
