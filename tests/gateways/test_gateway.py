"""The gateway protocol, the provider error table, and the console and file gateways."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.errors import AlertsError
from alerts.gateways.gateway import (
    ConsoleGateway,
    ErrorKind,
    FileGateway,
    Gateway,
    GatewayError,
    OutgoingSms,
    SendReceipt,
    classify,
)
from alerts.gateways.twilio_gateway import TwilioGateway
from tests.support.fake_twilio import FakeTwilio
from tests.support.gateways import send_now

R, INVALID, OPTED, CONTENT, OTHER = (
    ErrorKind.RETRYABLE,
    ErrorKind.RECIPIENT_INVALID,
    ErrorKind.OPTED_OUT,
    ErrorKind.CONTENT,
    ErrorKind.OTHER,
)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, R),
        (429, None, R),
        (None, "20429", R),
        (500, None, R),
        (502, None, R),
        (503, None, R),
        (504, "http-504", R),
        (None, "timeout", R),
        (None, "connection", R),
        (None, "http-503", R),
        (None, "http-429", R),
        (400, 30001, R),
        (429, 63018, R),
        (None, 30003, R),
        (None, 30005, R),
        (400, 21211, INVALID),
        (400, 21612, INVALID),
        (400, 21614, INVALID),
        (None, 30006, INVALID),
        (400, "21211", INVALID),
        (400, 21610, OPTED),
        (400, 21617, CONTENT),
        (400, 21602, CONTENT),
        (400, 21408, OTHER),
        (401, 20003, OTHER),
        (400, 21603, OTHER),
        (400, 99999, OTHER),
        (404, None, OTHER),
        (None, "http-404", OTHER),
        (None, "http-abc", OTHER),
        (400, None, OTHER),
        (None, None, OTHER),
        (None, "", OTHER),
        (600, None, OTHER),
    ],
)
def test_classify_table(status: int | None, code: int | str | None, kind: ErrorKind) -> None:
    assert classify(status, code) is kind


def test_provider_code_wins_over_http_status() -> None:
    # A 21610 arriving on a 5xx-looking answer still means "opted out", not "try again".
    assert classify(503, 21610) is OPTED
    assert classify(400, 30001) is R


def test_gateway_error_carries_kind_and_is_an_alerts_error() -> None:
    error = GatewayError("busy", kind=R, code="20429", retry_after=2.5, http_status=429)
    assert isinstance(error, AlertsError)
    assert error.retryable and error.retry_after == 2.5 and error.code == "20429"
    assert str(error) == "busy"
    assert not GatewayError("stop", kind=OPTED, code="21610").retryable


def test_console_gateway_prints_one_masked_line() -> None:
    out = io.StringIO()
    gateway = ConsoleGateway(stream=out)
    receipt = send_now(
        gateway, OutgoingSms("+14185550123", "Déneigement ce soir\nRue Cartier", "d-7")
    )
    gateway.close()
    text = out.getvalue()
    assert text == "SMS to +1******0123 [d-7]: Déneigement ce soir\\nRue Cartier\n"
    assert "4185550123" not in text
    assert receipt.provider_id.startswith("console-") and len(receipt.provider_id) == 8 + 32
    assert receipt.status == "sent"


def test_console_gateway_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    send_now(ConsoleGateway(), OutgoingSms("+14185550123", "Radar photo demain"))
    captured = capsys.readouterr()
    assert captured.err == "SMS to +1******0123: Radar photo demain\n"
    assert captured.out == ""  # stdout stays free for a command's --json document


def test_file_gateway_writes_whole_json_lines_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "sms.jsonl"
    path.parent.mkdir()
    gateway = FileGateway(path)
    threads, per_thread = 16, 200
    # A long, non-ASCII body makes a torn or interleaved write show up as broken JSON.
    body = "Stationnement interdit — déneigement " * 20
    receipts: list[SendReceipt] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            receipt = send_now(gateway, OutgoingSms(f"+1418{t:02d}{i:05d}", body, f"{t}-{i}"))
            with lock:
                receipts.append(receipt)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    gateway.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == threads * per_thread
    records = [json.loads(line) for line in lines]
    assert {r["reference"] for r in records} == {
        f"{t}-{i}" for t in range(threads) for i in range(per_thread)
    }
    assert all(
        r["body"] == body and set(r) == {"to", "body", "reference", "provider_id", "at"}
        for r in records
    )
    assert {r["provider_id"] for r in records} == {r.provider_id for r in receipts}
    assert all(r.provider_id.startswith("file-") for r in receipts)


# -- the same contract, over every implementation --------------------------------------------


@pytest.fixture(params=["console", "file", "twilio-fake"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    """Each gateway implementation, ready to send."""
    if request.param == "console":
        yield ConsoleGateway(stream=io.StringIO())
    elif request.param == "file":
        yield FileGateway(tmp_path / "sms.jsonl")
    else:
        with FakeTwilio() as fake:
            twilio = TwilioGateway(
                fake.account_sid,
                fake.auth_token,
                from_number="+15005550006",
                api_base_url=fake.base_url,
            )
            yield twilio
            twilio.close()


def test_every_gateway_meets_the_protocol(gateway: Gateway) -> None:
    assert isinstance(gateway, Gateway)
    assert gateway.name in {"console", "file", "twilio"}
    first = send_now(gateway, OutgoingSms("+14185550123", "Avis de déneigement", "d-1"))
    second = send_now(gateway, OutgoingSms("+14185550123", "Avis de déneigement", "d-2"))
    assert isinstance(first, SendReceipt) and first.provider_id and first.status
    assert first.provider_id != second.provider_id
    gateway.close()
