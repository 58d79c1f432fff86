"""The webhooks refuse what Twilio would not send before reading it, parse forms within
limits, and accept only provider fields in Twilio's formats (which a shifted replay breaks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select
from twilio.request_validator import RequestValidator

from alerts.config import Settings
from alerts.storage.models import InboundMessage, StatusEvent, Subscriber
from alerts.subscribers.subscribers import show_subscriber
from alerts.web.app import create_app
from alerts.web.webhooks import MAX_FIELDS, MAX_FORM_BYTES
from alerts.wiring import Services, build
from tests.support.webhooks import PUBLIC, TOKEN, inbound_fields, signed

ACCOUNT = "AC" + "0" * 32  # the AccountSid of tests.support.webhooks.inbound_fields
FORM = "application/x-www-form-urlencoded"
WEBHOOKS = ["/sms/inbound", "/sms/status"]


def post(client: TestClient, fields: dict[str, str], path: str = "/sms/inbound") -> httpx2.Response:
    return client.post(path, data=fields, headers=signed(path, fields))


def counts(services: Services) -> tuple[int, int, int]:
    with services.session(read_only=True) as session:
        return (
            len(session.exec(select(Subscriber)).all()),
            len(session.exec(select(InboundMessage)).all()),
            len(session.exec(select(StatusEvent)).all()),
        )


def status_fields(**changes: str) -> dict[str, str]:
    """A status callback as Twilio sends it."""
    fields = {
        "AccountSid": ACCOUNT,
        "MessageSid": "SM" + "b" * 32,
        "SmsSid": "SM" + "b" * 32,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "To": "+14185550123",
    }
    fields.update(changes)
    return fields


# -- before reading -----------------------------------------------------------------------


class AsgiPost:
    """A POST straight through the ASGI interface, counting the body messages the app reads."""

    def __init__(self, app: FastAPI, path: str, headers: dict[str, str], chunks: list[bytes]):
        self.app, self.path, self.headers, self.chunks = app, path, headers, chunks
        self.read = 0  # body messages handed to the app
        self.status = 0
        self.response_headers: dict[str, str] = {}

    def run(self) -> AsgiPost:
        asyncio.run(self._run())
        return self

    async def _run(self) -> None:
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if self.read < len(self.chunks):
                chunk = self.chunks[self.read]
                self.read += 1
                more = self.read < len(self.chunks)
                return {"type": "http.request", "body": chunk, "more_body": more}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.response_headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            "client": ("203.0.113.7", 40000),
            "server": ("internal", 8000),
        }
        await self.app(scope, receive, send)


@pytest.fixture
def app(app_services: Services) -> FastAPI:
    return create_app(app_services)


def _big_form_chunks() -> list[bytes]:
    """About 3 MB of a urlencoded form in 64 kB chunks: many large fields."""
    field = b"&f=" + b"a" * (64 * 1024 - 3)
    return [b"Body=STOP" + field[9:], *([field] * 47)]


def _multipart_chunks() -> list[bytes]:
    part = b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + b"a" * 60000 + b"\r\n"
    return [part] * 40 + [b"--b--\r\n"]


FORGED = {"X-Twilio-Signature": "forged"}
MULTIPART = "multipart/form-data; boundary=b"


@pytest.mark.parametrize("path", WEBHOOKS)
@pytest.mark.parametrize(
    ("headers", "chunks", "expected"),
    [
        pytest.param(
            {"Transfer-Encoding": "chunked", "Content-Type": FORM},
            _big_form_chunks(),
            403,
            id="unsigned-chunked",
        ),
        pytest.param(
            {"Content-Length": str(40 * 60056 + 7), "Content-Type": MULTIPART},
            _multipart_chunks(),
            403,
            id="unsigned-multipart",
        ),
        pytest.param(
            {**FORGED, "Transfer-Encoding": "chunked", "Content-Type": FORM},
            _big_form_chunks(),
            411,
            id="chunked",
        ),
        pytest.param({**FORGED, "Content-Type": FORM}, [b"Body=STOP"], 411, id="no-length"),
        pytest.param(
            {**FORGED, "Content-Length": str(MAX_FORM_BYTES + 1), "Content-Type": FORM},
            _big_form_chunks()[:2],
            413,
            id="too-long",
        ),
        pytest.param(
            {**FORGED, "Content-Length": "12, 12", "Content-Type": FORM},
            [b"Body=STOP&a=b"],
            400,
            id="bad-length",
        ),
        pytest.param(
            {**FORGED, "Content-Length": str(40 * 60056 + 7), "Content-Type": MULTIPART},
            _multipart_chunks(),
            415,
            id="multipart",
        ),
        pytest.param(
            {**FORGED, "Content-Length": "15", "Content-Type": "application/json"},
            [b'{"Body":"STOP"}'],
            415,
            id="json",
        ),
    ],
)
def test_refused_from_the_headers_before_any_body_is_read(
    app: FastAPI,
    app_services: Services,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    expected: int,
) -> None:
    before = counts(app_services)
    request = AsgiPost(app, path, headers, chunks).run()
    assert (request.status, request.read) == (expected, 0)
    assert request.response_headers.get("connection") == "close"  # no draining the body
    assert counts(app_services) == before


def test_a_body_longer_than_its_length_is_not_read_beyond_it(
    app: FastAPI, app_services: Services
) -> None:
    headers = {**FORGED, "Content-Length": "16", "Content-Type": FORM}
    request = AsgiPost(app, "/sms/inbound", headers, [b"Body=STOP&From=+"] * 20).run()
    assert request.status == 413 and request.read == 2
    assert counts(app_services) == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        "&".join(f"f{n}=x" for n in range(MAX_FIELDS + 1)),
        "Body=STOP&Body=START",
        "Body=%ff%fe",
        "Body=STOP&&From=x",
        "Body=STOP&bad%20name=x",
    ],
    ids=["too-many-fields", "repeated", "not-utf8", "empty-field", "field-name"],
)
def test_malformed_forms_are_refused(client: TestClient, app_services: Services, body: str) -> None:
    headers = {"X-Twilio-Signature": "forged", "Content-Type": FORM}
    response = client.post("/sms/inbound", content=body.encode(), headers=headers)
    assert response.status_code == 400
    assert counts(app_services) == (0, 0, 0)


# -- the provider's formats ----------------------------------------------------------------


def shifted(fields: dict[str, str]) -> dict[str, str]:
    """The same signed text with its boundaries moved: NumMedia dropped, its name and value
    appended to MessageSid (Twilio's signature joins names and values without separators)."""
    moved = {k: v for k, v in fields.items() if k != "NumMedia"}
    moved["MessageSid"] = fields["MessageSid"] + "NumMedia" + fields["NumMedia"]
    return moved


def test_a_shifted_replay_cannot_opt_a_resident_back_in(
    client: TestClient, app_services: Services
) -> None:
    post(client, inbound_fields("abonner Lac-Doré"))
    captured = inbound_fields("oui")  # the confirmation, as an eavesdropper kept it
    captured_headers = signed("/sms/inbound", captured)
    assert post(client, captured).status_code == 200
    assert show_subscriber(app_services, "+14185550123").status == "active"
    assert post(client, inbound_fields("STOP")).status_code == 200
    assert show_subscriber(app_services, "+14185550123").status == "opted_out"
    before = counts(app_services)

    forged = shifted(captured)
    signature = captured_headers["X-Twilio-Signature"]
    # The attack is real: the captured signature is valid for the shifted fields.
    assert RequestValidator(TOKEN).validate(f"{PUBLIC}/sms/inbound", forged, signature)
    response = client.post("/sms/inbound", data=forged, headers=captured_headers)
    assert response.status_code == 400
    assert show_subscriber(app_services, "+14185550123").status == "opted_out"
    assert counts(app_services) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"MessageSid": "SM123"},
        {"MessageSid": "SM" + "A" * 32},  # Twilio's hex digits are lower case
        {"MessageSid": "XX" + "a" * 32},
        {"MessageSid": "SM" + "a" * 32 + "To+14185550100"},
        {"MessageSid": "SM" + "a" * 31 + "\x00"},
        {"SmsSid": "SM" + "c" * 32},  # two SIDs for one message
        {"MessageSid": ""},
        {"AccountSid": "AC123"},
        {"AccountSid": ""},
        {"From": "+1" + "4" * 32},
        {"To": "+1" + "4" * 32},
        {"Body": "a" * 1601},
        {"OptOutType": "STOP\x00"},
        {"OptOutType": "S" * 17},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_provider_fields_must_have_twilios_formats(
    client: TestClient, app_services: Services, changes: dict[str, str]
) -> None:
    fields = {**inbound_fields("abonner Lac-Doré"), **changes}
    fields = {name: value for name, value in fields.items() if value or name == "Body"}
    response = post(client, fields)
    assert response.status_code == 400
    assert counts(app_services) == (0, 0, 0)


def test_a_text_of_twilios_longest_is_answered(client: TestClient) -> None:
    response = post(client, inbound_fields("é" * 1600))
    assert response.status_code == 200 and "<Message>" in response.text


def test_the_account_must_be_this_services(settings: Settings) -> None:
    mine = "AC" + "1" * 32
    wired = build(
        settings.with_overrides(
            **{
                "twilio.auth_token": TOKEN,
                "twilio.account_sid": mine,
                "service.public_url": PUBLIC,
            }
        )
    )
    try:
        with TestClient(create_app(wired)) as client:
            theirs = inbound_fields("AIDE")  # AccountSid AC000...: another account's text
            assert post(client, theirs).status_code == 400
            assert counts(wired) == (0, 0, 0)
            ours = {**inbound_fields("AIDE"), "AccountSid": mine}
            assert post(client, ours).status_code == 200
            assert counts(wired)[1] == 1
            status = status_fields(AccountSid=mine)
            assert post(client, status_fields(), "/sms/status").status_code == 400
            assert post(client, status, "/sms/status").status_code == 204
    finally:
        wired.close()


@pytest.mark.parametrize(
    "changes",
    [
        {"MessageStatus": "delivered\x00", "SmsStatus": "delivered\x00"},
        {"MessageStatus": "d" * 33, "SmsStatus": "d" * 33},
        {"MessageStatus": "", "SmsStatus": ""},
        {"ErrorCode": "30003'; --"},
        {"MessageSid": "SM" + "b" * 32 + "MessageStatusdelivered"},
        {"AccountSid": "AC" + "0" * 31},
    ],
    ids=["nul-status", "long-status", "no-status", "error-code", "shifted-sid", "account"],
)
def test_status_callbacks_are_checked_like_texts(
    client: TestClient, app_services: Services, changes: dict[str, str]
) -> None:
    fields = {k: v for k, v in status_fields(**changes).items() if v}
    assert post(client, fields, "/sms/status").status_code == 400
    assert counts(app_services) == (0, 0, 0)
    good = status_fields(MessageStatus="undelivered", SmsStatus="undelivered", ErrorCode="30003")
    assert post(client, good, "/sms/status").status_code == 204
    with app_services.session(read_only=True) as session:
        stored = session.exec(select(StatusEvent)).one()
    assert (stored.status, stored.error_code) == ("undelivered", "30003")


# -- control characters ----------------------------------------------------------------------


def test_a_nul_in_a_text_is_dropped_and_the_text_answered(
    client: TestClient, app_services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fields = inbound_fields("abonner 1090 ch. du Lac-Doré\x00", sender="+1418555\x000123")
    response = post(client, fields)
    assert response.status_code == 200
    assert "Lac-Doré" in response.text and "OUI" in response.text  # not the apology
    with app_services.session(read_only=True) as session:
        stored = session.exec(select(InboundMessage)).one()
    assert (stored.from_phone, stored.body) == ("+14185550123", "abonner 1090 ch. du Lac-Doré")
    assert stored.action == "confirm_requested"
    assert "4185550123" not in caplog.text and "1090 ch." not in caplog.text
    stopped = post(client, inbound_fields("ST\x00OP\x1b"))
    assert stopped.status_code == 200
    assert show_subscriber(app_services, "+14185550123").status == "opted_out"


@pytest.fixture
def broken_services(app_services: Services) -> Iterator[Services]:
    """The webhook's services with the subscribers' table gone: every turn fails (on a
    statement whose parameter is the phone number)."""
    with app_services.engine.begin() as connection:
        connection.execute(text("ALTER TABLE subscriber RENAME TO subscriber_gone"))
    yield app_services
    with app_services.engine.begin() as connection:
        connection.execute(text("ALTER TABLE subscriber_gone RENAME TO subscriber"))


def test_a_failed_turn_is_logged_without_the_number_or_the_text(
    broken_services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(broken_services), base_url="http://internal:8000") as client:
        response = post(client, inbound_fields("abonner 1090 ch. du Lac-Doré"))
    assert response.status_code == 200
    assert broken_services.replies.text("fr", "error") in response.text
    assert "failed" in caplog.text and "******0123" in caplog.text
    assert "4185550123" not in caplog.text and "1090 ch." not in caplog.text
