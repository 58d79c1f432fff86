"""The webhook: Twilio signatures, TwiML answers, idempotency, a fuzzed webhook, and a real
served process."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import select
from twilio.request_validator import RequestValidator

from alerts.config import Settings
from alerts.storage.models import InboundMessage, StatusEvent, Subscriber
from alerts.web.app import create_app
from alerts.wiring import Services, build
from tests.support.processes import clean_env, free_port, run_cli, start_cli, stop
from tests.support.webhooks import PUBLIC, TOKEN, inbound_fields, signed


def post(
    client: TestClient, fields: dict[str, str], headers: dict[str, str] | None = None
) -> httpx2.Response:
    return client.post(
        "/sms/inbound",
        data=fields,
        headers=headers if headers is not None else signed("/sms/inbound", fields),
    )


def twiml_messages(response: httpx2.Response) -> list[str]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return [element.text or "" for element in root.iter("Message")]


def _counts(services: Services) -> tuple[int, int]:
    with services.session(read_only=True) as session:
        return (
            len(session.exec(select(Subscriber)).all()),
            len(session.exec(select(InboundMessage)).all()),
        )


def test_a_signed_subscription_gets_twiml_replies(
    client: TestClient, app_services: Services
) -> None:
    asked = twiml_messages(post(client, inbound_fields("abonner 1090 ch. du Lac-Doré")))
    assert len(asked) == 1 and "Lac-Doré" in asked[0] and "OUI" in asked[0]
    done = twiml_messages(post(client, inbound_fields("oui")))
    assert "confirmée" in done[0]
    from alerts.subscribers.subscribers import show_subscriber

    assert show_subscriber(app_services, "+14185550123").zones == ["Lac-Doré"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": "forged"},
        "wrong-token",
        "wrong-url",
    ],
)
def test_forged_or_missing_signatures_are_refused(
    client: TestClient, app_services: Services, headers: object
) -> None:
    fields = inbound_fields("abonner Lac-Doré")
    if headers == "wrong-token":
        headers = signed("/sms/inbound", fields, token="not-the-token")
    elif headers == "wrong-url":
        sig = RequestValidator(TOKEN).compute_signature("https://evil.example/sms/inbound", fields)
        headers = {"X-Twilio-Signature": sig}
    before = _counts(app_services)
    response = post(client, fields, headers)  # type: ignore[arg-type]
    assert response.status_code == 403
    assert _counts(app_services) == before


def test_a_tampered_body_is_refused(client: TestClient, app_services: Services) -> None:
    fields = inbound_fields("abonner Lac-Doré")
    headers = signed("/sms/inbound", fields)
    fields["Body"] = "STOP"
    assert post(client, fields, headers).status_code == 403
    assert _counts(app_services) == (0, 0)


def test_a_replayed_message_sid_changes_nothing(client: TestClient, app_services: Services) -> None:
    first = post(client, inbound_fields("abonner Lac-Doré", sid="SM" + "a" * 32))
    post(client, inbound_fields("oui"))
    post(client, inbound_fields("STOP"))
    before = _counts(app_services)
    again = post(client, inbound_fields("abonner Lac-Doré", sid="SM" + "a" * 32))
    assert twiml_messages(again) == twiml_messages(first)
    assert _counts(app_services) == before
    from alerts.subscribers.subscribers import show_subscriber

    assert show_subscriber(app_services, "+14185550123").status == "opted_out"


def test_provider_opt_out_gets_an_empty_twiml(client: TestClient, app_services: Services) -> None:
    post(client, inbound_fields("abonner Lac-Doré"))
    post(client, inbound_fields("oui"))
    fields = {**inbound_fields("STOP"), "OptOutType": "STOP"}
    assert twiml_messages(post(client, fields)) == []
    from alerts.subscribers.subscribers import show_subscriber

    assert show_subscriber(app_services, "+14185550123").status == "opted_out"


def test_without_an_auth_token_everything_is_refused(settings: Settings) -> None:
    wired = build(settings)
    with TestClient(create_app(wired)) as test_client:
        fields = inbound_fields("abonner Lac-Doré")
        assert (
            test_client.post(
                "/sms/inbound", data=fields, headers=signed("/sms/inbound", fields)
            ).status_code
            == 403
        )
    wired.close()


def test_status_callbacks_are_signed_and_stored(client: TestClient, app_services: Services) -> None:
    fields = {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": "SM" + "b" * 32,
        "MessageStatus": "delivered",
        "To": "+14185550123",
    }
    assert client.post("/sms/status", data=fields).status_code == 403
    response = client.post("/sms/status", data=fields, headers=signed("/sms/status", fields))
    assert response.status_code in (200, 204)
    with app_services.session(read_only=True) as session:
        stored = session.exec(select(StatusEvent)).all()
    assert [(e.message_sid, e.status) for e in stored] == [("SM" + "b" * 32, "delivered")]


def test_health(client: TestClient) -> None:
    # No scheduler runs beside this app, and nothing waits for one (see test_health.py).
    response = client.get("/health")
    assert response.status_code == 200 and response.json()["database"]["ok"] is True


def _with_nuls(value: str, at: list[int]) -> str:
    for position in sorted(at, reverse=True):
        index = position % (len(value) + 1)
        value = value[:index] + "\x00" + value[index:]
    return value


def _shifted(fields: dict[str, str]) -> dict[str, str]:
    """The same signed request with its boundaries moved: NumMedia dropped, its name and value
    appended to MessageSid (Twilio's signature joins names and values without separators)."""
    moved = {k: v for k, v in fields.items() if k != "NumMedia"}
    moved["MessageSid"] = fields["MessageSid"] + "NumMedia" + fields["NumMedia"]
    return moved


# How each kind of request is sent, and what it must get: TwiML, or a refusal changing nothing.
_KINDS = ["form", "nul", "chunked", "multipart", "shifted"]


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.text(max_size=2000),
    sender=st.sampled_from(["+14185550123", "+14185550124", "garbage", ""]),
    kind=st.sampled_from(_KINDS),
    nuls=st.lists(st.integers(min_value=0), min_size=1, max_size=5),
)
def test_any_request_gets_valid_twiml_or_a_clean_refusal(
    client: TestClient, app_services: Services, body: str, sender: str, kind: str, nuls: list[int]
) -> None:
    if kind == "nul":  # NUL anywhere in the text and the number: PostgreSQL cannot store it
        body, sender = _with_nuls(body, nuls), _with_nuls(sender, nuls[:1])
    fields = inbound_fields(body, sender=sender)
    headers = signed("/sms/inbound", fields)
    before = _counts(app_services)
    if kind == "chunked":
        encoded = urlencode(fields).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = client.post("/sms/inbound", content=iter([encoded]), headers=headers)
        expected = 411
    elif kind == "multipart":
        response = client.post("/sms/inbound", data=fields, files={"f": b"x"}, headers=headers)
        expected = 415
    elif kind == "shifted":
        response = post(client, _shifted(fields), headers)
        expected = 400
    else:
        response = post(client, fields, headers)
        expected = 400 if len(body) > 1600 else 200
    assert response.status_code == expected
    if expected != 200:
        assert _counts(app_services) == before
        return
    messages = twiml_messages(response)
    assert len(messages) <= 1
    # The webhook turns a crash into an apology; here no text may cause one.
    replies = app_services.replies
    assert not set(messages) & {replies.text("fr", "error"), replies.text("en", "error")}
    with app_services.session(read_only=True) as session:
        stored = session.exec(
            select(InboundMessage).where(InboundMessage.message_sid == fields["MessageSid"])
        ).one()
    assert "\x00" not in stored.body + stored.from_phone


def test_alerts_serve_answers_a_real_signed_request(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        ALERTS_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        ALERTS_PUBLIC_URL=PUBLIC,
        TWILIO_AUTH_TOKEN=TOKEN,
    )
    from alerts.demo.run import DEMO_LAYER

    imported = run_cli(env, tmp_path, "zones", "import", str(DEMO_LAYER))
    assert imported.returncode == 0, imported.stderr
    server = start_cli(env, tmp_path, "serve", "--port", str(port), log=tmp_path / "serve.log")
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        fields = inbound_fields("abonner Lac-Doré")
        response = httpx2.post(
            f"{base}/sms/inbound", data=fields, headers=signed("/sms/inbound", fields), timeout=10
        )
        assert "Lac-Doré" in twiml_messages(response)[0]
    finally:
        stop(server, timeout=10)
