"""Contract tests: TwilioGateway's requests checked by Stoplight Prism against Twilio's OpenAPI.

Prism (`npm install @stoplight/prism-cli`) serves `twilio_api_v2010.json` and answers 422
when a request breaks the description. The binary is looked up in ALERTS_PRISM_BIN, then
<repo>/node_modules/.bin/prism, then PATH; without it these tests skip, unless
ALERTS_REQUIRE_PRISM=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any

import httpx2
import pytest

from alerts.gateways.gateway import ErrorKind, GatewayError, OutgoingSms, SendReceipt
from alerts.gateways.twilio_gateway import TwilioGateway
from tests.support.gateways import send_now
from tests.support.paths import REPO, SHARED
from tests.support.processes import free_port

SPEC = SHARED / "twilio-oai" / "twilio_api_v2010.json"
STARTUP_TIMEOUT = 60.0  # the 2010 description is ~1.9 MB; Prism parses it in 1-3 s

ACCOUNT_SID = "AC" + uuid.uuid4().hex
AUTH_TOKEN = uuid.uuid4().hex
SENDER = "+15005550006"
SERVICE = "MG" + uuid.uuid4().hex
TO = "+14185550123"


def _unavailable(reason: str) -> None:
    if os.environ.get("ALERTS_REQUIRE_PRISM") == "1":
        pytest.fail(f"ALERTS_REQUIRE_PRISM=1 but {reason}")
    pytest.skip(reason)


def _find_prism() -> str | None:
    configured = os.environ.get("ALERTS_PRISM_BIN")
    if configured:
        return configured
    local = REPO / "node_modules" / ".bin" / "prism"
    if local.exists():
        return str(local)
    return shutil.which("prism")


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    """Start `prism mock --errors` on the Twilio 2010 description; yield its base URL."""
    prism = _find_prism()
    if prism is None:
        _unavailable("Prism not found (ALERTS_PRISM_BIN, node_modules/.bin/prism, PATH)")
    if not SPEC.exists():
        _unavailable(f"Twilio OpenAPI description not found at {SPEC}")
    assert prism is not None
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [prism, "mock", "-h", "127.0.0.1", "-p", str(port), "--errors", str(SPEC)]
    # A file, not a pipe, for Prism's log: nobody reads a pipe while tests run, and a full
    # pipe would block Prism.
    with tempfile.TemporaryFile(mode="w+") as log:
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            _unavailable(f"cannot run Prism at {prism}: {exc}")
        try:
            _wait_until_up(process, base_url, log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str, log: IO[str]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Prism exited with {process.returncode}:\n{_tail(log)}")
        try:
            # Any answer, even a 404, means Prism is up.
            httpx2.get(base_url + "/", timeout=1.0, trust_env=False)
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    pytest.fail(f"Prism did not answer within {STARTUP_TIMEOUT:g} s:\n{_tail(log)}")


def _tail(log: IO[str]) -> str:
    log.seek(0)
    return log.read()[-2000:]


MakeGateway = Callable[..., TwilioGateway]


@pytest.fixture
def gateway_for(prism_url: str) -> Iterator[MakeGateway]:
    """A factory for gateways pointed at Prism, closed afterwards."""
    made: list[TwilioGateway] = []

    def make(**options: Any) -> TwilioGateway:
        gateway = TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, api_base_url=prism_url, **options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def _assert_receipt(receipt: SendReceipt) -> None:
    assert receipt.provider_id.startswith("SM") and len(receipt.provider_id) == 34
    assert receipt.status in {"queued", "accepted", "sending", "sent", "scheduled"}
    assert receipt.segments is None or receipt.segments >= 1


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"from_number": SENDER}, id="from-number"),
        pytest.param(
            {
                "from_number": SENDER,
                "status_callback": "https://alerts.example.ca/sms/status",
                "validity_period": 36_000,
            },
            id="from-number-callback-validity",
        ),
        pytest.param({"messaging_service_sid": SERVICE}, id="messaging-service"),
        pytest.param(
            {"messaging_service_sid": SERVICE, "validity_period": 600}, id="service-validity"
        ),
    ],
)
def test_gateway_requests_satisfy_twilio_openapi(
    gateway_for: MakeGateway, options: dict[str, Any]
) -> None:
    gateway = gateway_for(**options)
    for body in ("Déneigement ce soir: stationnement interdit.", "Radar photo sur l’avenue " * 9):
        _assert_receipt(send_now(gateway, OutgoingSms(TO, body, reference="d-1")))


def test_prism_rejects_a_request_that_breaks_the_contract(prism_url: str) -> None:
    # Proves the checks above can fail: Prism really validates what it is sent.
    url = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    # trust_env=False: a CI proxy setting must not route 127.0.0.1 through the proxy.
    with httpx2.Client(base_url=prism_url, auth=(ACCOUNT_SID, AUTH_TOKEN), trust_env=False) as http:
        missing_to = http.post(url, data={"From": SENDER, "Body": "a"})
        bad_type = http.post(url, data={"To": TO, "Body": "a", "ValidityPeriod": "soon"})
        good = http.post(url, data={"To": TO, "From": SENDER, "Body": "a"})
    assert missing_to.status_code == 422 and "'To'" in missing_to.text
    assert bad_type.status_code == 422 and "ValidityPeriod" in bad_type.text
    assert good.status_code == 201


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"messaging_service_sid": "MG123"}, id="service-sid-pattern"),
        pytest.param({"from_number": SENDER, "status_callback": "not a url"}, id="callback-uri"),
    ],
)
def test_gateway_wraps_a_contract_violation(
    gateway_for: MakeGateway, options: dict[str, Any]
) -> None:
    # Misconfiguration that only Twilio would catch reaches the dispatcher as a GatewayError.
    with pytest.raises(GatewayError) as caught:
        send_now(gateway_for(**options), OutgoingSms(TO, "a"))
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (ErrorKind.OTHER, "http-422", 422)
    assert AUTH_TOKEN not in str(error)
