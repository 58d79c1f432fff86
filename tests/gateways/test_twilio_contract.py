"""Contract tests: TwilioGateway's requests checked by Stoplight Prism against Twilio's OpenAPI.

Prism (`npm install @stoplight/prism-cli`) serves `twilio_api_v2010.json` and answers 422
when a request breaks the description. The binary is looked up in ALERTS_PRISM_BIN, then
<repo>/node_modules/.bin/prism, then PATH; without it these tests skip, unless
ALERTS_REQUIRE_PRISM=1 (CI), where they fail.

Creates go to `prism mock --errors`. The log look-up (GET .../Messages.json) goes to a second
Prism without `--errors`: the description's own example page breaks its `format: uri` (its
*_page_uri are relative paths), so `--errors` answers every valid list request with a 500.
Without the flag Prism still answers 422 to a request that breaks the description.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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
    with _prism(errors=True) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def lenient_prism_url() -> Iterator[str]:
    """`prism mock` without --errors: requests are still checked (422), responses are not."""
    with _prism(errors=False) as base_url:
        yield base_url


@contextmanager
def _prism(*, errors: bool) -> Iterator[str]:
    prism = _find_prism()
    if prism is None:
        _unavailable("Prism not found (ALERTS_PRISM_BIN, node_modules/.bin/prism, PATH)")
    if not SPEC.exists():
        _unavailable(f"Twilio OpenAPI description not found at {SPEC}")
    assert prism is not None
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [prism, "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)]
    if errors:
        command.insert(-1, "--errors")
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


# -- the log look-up: GET .../Messages.json ----------------------------------------------------

# The description's example page (Prism's mocked answer): two messages of 24 May 2019, the
# first outbound "testing" from +12019235161 through MGaaaa..., and a next_page_uri.
EXAMPLE_SID = "SMded05904ccb347238880ca9264e8fe1c"
EXAMPLE_SENDER = "+12019235161"
EXAMPLE_SERVICE = "MG" + "a" * 32


def _find(gateway: TwilioGateway, to: str, body: str, since: datetime) -> SendReceipt | None:
    async def once() -> SendReceipt | None:
        try:
            return await gateway.find_sent(to, body, since)
        finally:
            await gateway.aclose()

    return asyncio.run(once())


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"from_number": SENDER}, id="from-number"),
        pytest.param({"messaging_service_sid": SERVICE}, id="messaging-service"),
    ],
)
def test_log_look_ups_satisfy_twilio_openapi(
    lenient_prism_url: str, options: dict[str, Any]
) -> None:
    gateway = TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, api_base_url=lenient_prism_url, **options)
    try:
        # The mocked page is older than `since`: not found, after one accepted request.
        yesterday = datetime.now(UTC) - timedelta(days=1)
        assert _find(gateway, TO, "Déneigement ce soir", yesterday) is None
        # Since 2000, nothing matches: the gateway follows next_page_uri (PageToken) page after
        # page, each request accepted, until its page limit. A 422 would be an http-422 error.
        with pytest.raises(GatewayError) as caught:
            _find(gateway, TO, "Déneigement ce soir", datetime(2000, 1, 1, tzinfo=UTC))
        assert caught.value.code == "log-too-long"
    finally:
        gateway.close()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"from_number": EXAMPLE_SENDER}, id="from-number"),
        pytest.param({"messaging_service_sid": EXAMPLE_SERVICE}, id="messaging-service"),
    ],
)
def test_a_twilio_shaped_page_is_read(lenient_prism_url: str, options: dict[str, Any]) -> None:
    gateway = TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, api_base_url=lenient_prism_url, **options)
    try:
        found = _find(gateway, TO, "testing", datetime(2019, 5, 24, 17, 44, 46, tzinfo=UTC))
    finally:
        gateway.close()
    assert found == SendReceipt(provider_id=EXAMPLE_SID, status="sent", segments=1)


def test_a_log_look_up_that_breaks_the_contract_is_a_gateway_error(
    lenient_prism_url: str,
) -> None:
    bad_account = "AC" + "z" * 32  # the path's AccountSid must be AC + 32 hex digits
    gateway = TwilioGateway(
        bad_account, AUTH_TOKEN, from_number=SENDER, api_base_url=lenient_prism_url
    )
    try:
        with pytest.raises(GatewayError) as caught:
            _find(gateway, TO, "a", datetime.now(UTC) - timedelta(days=1))
    finally:
        gateway.close()
    error = caught.value
    assert (error.kind, error.code, error.http_status) == (ErrorKind.OTHER, "http-422", 422)
    assert AUTH_TOKEN not in str(error)


def test_prism_rejects_a_list_request_that_breaks_the_contract(
    lenient_prism_url: str, prism_url: str
) -> None:
    # Proves the look-up checks above can fail: Prism validates list requests too.
    url = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    with httpx2.Client(base_url=lenient_prism_url, auth=auth, trust_env=False) as http:
        answers = {
            name: http.get(url, params=params)
            for name, params in {
                "pagesize": {"To": TO, "PageSize": "0"},
                "pagesize-high": {"To": TO, "PageSize": "1001"},
                "pagesize-type": {"To": TO, "PageSize": "many"},
                "page": {"To": TO, "Page": "-1"},
                # Quirk: DateSent is `format: date-time`, so the YYYY-MM-DD the description
                # documents (and gives as its own example) is refused.
                "datesent": {"DateSent": "2024-05-02"},
                "good": {"To": TO, "From": SENDER, "PageSize": "100"},
                "good-datesent": {"DateSent": "2024-05-02T00:00:00Z"},
            }.items()
        }
        unsigned = http.get(url, params={"To": TO}, auth=None)
    for name in ("pagesize", "pagesize-high", "pagesize-type", "page", "datesent"):
        answer = answers[name]
        assert answer.status_code == 422, (name, answer.text)
        locations = [v["location"] for v in answer.json()["validation"]]
        assert ["query", name.split("-")[0]] in locations, (name, locations)
    for name in ("good", "good-datesent"):
        assert answers[name].status_code == 200, answers[name].text
        assert answers[name].json()["messages"][0]["sid"] == EXAMPLE_SID
    assert unsigned.status_code == 401
    # Why look-ups go to the lenient Prism: under --errors the example page itself is refused.
    with httpx2.Client(base_url=prism_url, auth=auth, trust_env=False) as http:
        strict = http.get(url, params={"To": TO, "PageSize": "100"})
    assert strict.status_code == 500
    assert {v["location"][0] for v in strict.json()["validation"]} == {"response"}
