"""The web app: Twilio's webhooks (/sms/inbound, /sms/status), /health, and the public routes."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from alerts.conversation import InboundSms, Outcome, handle_inbound, replies_for
from alerts.phones import mask_phone
from alerts.wiring import Services

log = logging.getLogger(__name__)
TWIML = "application/xml"
# Twilio never sends more; anything larger is not Twilio and is not worth parsing.
MAX_FORM_BYTES = 64 * 1024


def create_app(services: Services) -> FastAPI:
    """The FastAPI app serving the webhooks for these services."""
    app = FastAPI(title="Neighbourhood SMS alerts", docs_url=None, redoc_url=None)
    token = services.settings.twilio.auth_token.get_secret_value()
    validator = RequestValidator(token) if token else None
    replies = replies_for(services)
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

    @app.post("/sms/inbound")
    async def inbound(request: Request) -> Response:
        fields = await signed_form(request)
        if fields is None:
            return Response("forbidden\n", status_code=403, media_type="text/plain")
        sms = InboundSms(
            sender=fields.get("From", ""),
            body=fields.get("Body", ""),
            message_sid=fields.get("MessageSid") or fields.get("SmsSid", ""),
            to=fields.get("To", ""),
            opt_out_type=fields.get("OptOutType") or None,
        )
        if inline:
            outcome = _answer(services, sms, replies)
        else:
            outcome = await run_in_threadpool(_answer, services, sms, replies)
        return Response(_twiml(outcome.reply), media_type=TWIML)

    @app.post("/sms/status")
    async def status(request: Request) -> Response:
        fields = await signed_form(request)
        if fields is None:
            return Response("forbidden\n", status_code=403, media_type="text/plain")
        await run_in_threadpool(_record_status, services, fields)
        return Response(status_code=204)

    @app.get("/health")
    def health() -> Response:
        try:
            with services.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # the health check reports, it never raises
            log.error("health: database unreachable: %s", type(exc).__name__)
            return Response('{"status":"unavailable"}', 503, media_type="application/json")
        return Response('{"status":"ok"}', media_type="application/json")

    include_public_routes(app, services)
    return app


def include_public_routes(app: FastAPI, services: Services) -> None:
    """The read-only public page, open-data feeds and metrics (see alerts.public_pages)."""
    from alerts.cap import cap_router
    from alerts.feeds import feeds_router
    from alerts.metrics import metrics_router
    from alerts.public_cache import PublicCache
    from alerts.public_pages import pages_router
    from alerts.zone_catalog import NoZoneLayer

    cache = PublicCache(services)

    @app.exception_handler(NoZoneLayer)
    def no_layer(request: Request, exc: NoZoneLayer) -> Response:
        # A new install: the public routes have nothing to show until zones are imported.
        return Response(f"{exc}\n", status_code=503, media_type="text/plain")

    app.include_router(pages_router(services, cache))
    app.include_router(feeds_router(services, cache))
    app.include_router(cap_router(services, cache))
    app.include_router(metrics_router(services))


def _answer(services: Services, sms: InboundSms, replies: object) -> Outcome:
    """The conversation's outcome; a crash still answers the resident helpfully."""
    if not sms.message_sid:
        return Outcome(None, "no_sid")
    try:
        return handle_inbound(services, sms, replies)  # type: ignore[arg-type]
    except Exception:
        log.exception("inbound %s from %s failed", sms.message_sid, mask_phone(sms.sender))
        lang = services.settings.service.default_lang
        return Outcome(replies.text(lang, "error"), "error")  # type: ignore[attr-defined]


def _record_status(services: Services, fields: Mapping[str, str]) -> None:
    from alerts.delivery_status import record_status

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
