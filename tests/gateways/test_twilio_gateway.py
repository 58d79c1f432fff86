"""TwilioGateway through the real SDK against FakeTwilio, a real local HTTP server."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest
from twilio.request_validator import RequestValidator

from alerts.errors import ConfigError
from alerts.gateways.gateway import (
    ErrorKind,
    Gateway,
    GatewayError,
    MessageLog,
    OutgoingSms,
    SendReceipt,
    classify,
)
from alerts.gateways.twilio_gateway import (
    LOG_MAX_PAGES,
    LOG_PAGE_SIZE,
    TwilioGateway,
    parse_retry_after,
)
from tests.support.fake_twilio import FakeTwilio, count_segments
from tests.support.gateways import send_now
from tests.support.processes import free_port

SENDER = "+15005550006"
OTHER_SENDER = "+15005550009"
SERVICE = "MG" + "1" * 32
OTHER_SERVICE = "MG" + "3" * 32
TO = "+14185550123"
CALLBACK = "https://alerts.example.ca/sms/status"

MakeGateway = Callable[..., TwilioGateway]


@pytest.fixture
def make_gateway(fake: FakeTwilio) -> Iterator[MakeGateway]:
    """Build TwilioGateways pointed at the fake; closes them afterwards."""
    made: list[TwilioGateway] = []

    def make(**overrides: Any) -> TwilioGateway:
        options: dict[str, Any] = {
            "account_sid": fake.account_sid,
            "auth_token": fake.auth_token,
            "from_number": SENDER,
            "api_base_url": fake.base_url,
            "timeout": 5.0,
        }
        options.update(overrides)
        gateway = TwilioGateway(**options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def _send_error(gateway: TwilioGateway, message: OutgoingSms) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        send_now(gateway, message)
    return caught.value


# -- what goes over the wire -----------------------------------------------------------------


def test_send_posts_the_right_form_and_returns_a_receipt(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway(status_callback=CALLBACK, validity_period=3600)
    assert isinstance(gateway, Gateway)
    receipt = send_now(
        gateway, OutgoingSms(TO, "Déneigement ce soir à 19 h", reference="delivery-42")
    )

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request.form == {
        "To": TO,
        "From": SENDER,
        "Body": "Déneigement ce soir à 19 h",
        "StatusCallback": CALLBACK,
        "ValidityPeriod": "3600",
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    [stored] = fake.messages
    assert receipt.provider_id == stored["sid"] and receipt.provider_id.startswith("SM")
    assert len(receipt.provider_id) == 34
    assert receipt.status == "queued" and receipt.segments == 1


def test_messaging_service_replaces_from_and_optional_fields_stay_out(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway(from_number=None, messaging_service_sid=SERVICE)
    body = "Opération radar photo demain sur l’avenue Cartier. " * 2  # ’ forces UCS-2
    receipt = send_now(gateway, OutgoingSms(TO, body))
    [request] = fake.requests
    assert request.form == {"To": TO, "MessagingServiceSid": SERVICE, "Body": body}
    assert receipt.status == "accepted"
    assert receipt.segments == count_segments(body) == 2


def test_reference_is_never_sent_to_the_provider(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    send_now(make_gateway(), OutgoingSms(TO, "Avis", reference="secret-delivery-id"))
    assert not any("secret-delivery-id" in value for value in fake.requests[0].form.values())


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"from_number": None}, "twilio.messaging_service_sid"),
        ({"messaging_service_sid": SERVICE}, "twilio.from_number"),
        ({"validity_period": 0}, "twilio.validity_period"),
        ({"validity_period": 36_001}, "twilio.validity_period"),
        ({"auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"api_base_url": "127.0.0.1:8765"}, "twilio.api_base_url"),
        ({"timeout": 0}, "twilio.timeout"),
    ],
)
def test_bad_configuration_names_the_key(
    make_gateway: MakeGateway, overrides: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make_gateway(**overrides)


# -- every failure becomes a GatewayError ----------------------------------------------------

LONG_BODY = "x" * 1601


@pytest.mark.parametrize(
    ("inject", "message", "kind", "code"),
    [
        pytest.param(
            lambda f: f.fail_next(1, status=429, code=20429),
            OutgoingSms(TO, "a"),
            "retryable",
            "20429",
            id="429",
        ),
        pytest.param(
            lambda f: f.fail_next(1, status=500, code=None),
            OutgoingSms(TO, "a"),
            "retryable",
            "http-500",
            id="500",
        ),
        pytest.param(
            lambda f: f.fail_next(1, status=503, code=None, plain_text=True),
            OutgoingSms(TO, "a"),
            "retryable",
            "http-503",
            id="503-not-json",
        ),
        pytest.param(
            lambda f: f.fail_next(1, status=400, code=30001),
            OutgoingSms(TO, "a"),
            "retryable",
            "30001",
            id="30001-queue-overflow",
        ),
        pytest.param(
            lambda f: f.drop_connection_next(1),
            OutgoingSms(TO, "a"),
            "retryable",
            "connection",
            id="dropped-connection",
        ),
        pytest.param(
            lambda f: f.fail_numbers({TO: 21610}),
            OutgoingSms(TO, "a"),
            "opted_out",
            "21610",
            id="21610",
        ),
        pytest.param(
            lambda f: f.fail_numbers({TO: 21211}),
            OutgoingSms(TO, "a"),
            "recipient_invalid",
            "21211",
            id="21211",
        ),
        pytest.param(
            lambda f: f.fail_numbers({TO: 21614}),
            OutgoingSms(TO, "a"),
            "recipient_invalid",
            "21614",
            id="21614",
        ),
        pytest.param(
            lambda f: f.fail_numbers({TO: 21612}),
            OutgoingSms(TO, "a"),
            "recipient_invalid",
            "21612",
            id="21612",
        ),
        pytest.param(
            lambda f: f.fail_numbers({TO: 30006}),
            OutgoingSms(TO, "a"),
            "recipient_invalid",
            "30006",
            id="30006",
        ),
        pytest.param(
            lambda f: None,
            OutgoingSms("418-555-0123", "a"),
            "recipient_invalid",
            "21211",
            id="not-e164",
        ),
        pytest.param(
            lambda f: None, OutgoingSms(TO, LONG_BODY), "content", "21617", id="21617-too-long"
        ),
        pytest.param(lambda f: None, OutgoingSms(TO, ""), "content", "21602", id="21602-empty"),
    ],
)
def test_faults_become_classified_gateway_errors(
    fake: FakeTwilio,
    make_gateway: MakeGateway,
    inject: Callable[[FakeTwilio], None],
    message: OutgoingSms,
    kind: str,
    code: str,
) -> None:
    gateway = make_gateway()
    inject(fake)
    error = _send_error(gateway, message)
    assert (error.kind, error.code) == (ErrorKind(kind), code)
    assert error.retryable == (kind == "retryable")
    assert classify(error.http_status, error.code) is error.kind
    # Numbers are personal information: error messages (which get logged) carry the mask.
    assert "4185550123" not in str(error)
    # The gateway stays usable after any failure (a fresh connection after a dropped one).
    assert send_now(gateway, OutgoingSms("+14185550999", "encore")).provider_id.startswith("SM")


def test_retry_after_header_is_passed_on(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    fake.fail_next(1, status=429, code=20429, retry_after=7)
    error = _send_error(gateway, OutgoingSms(TO, "a"))
    assert error.retryable and error.retry_after == 7.0 and error.http_status == 429
    fake.fail_next(1, status=503, code=None)
    assert _send_error(gateway, OutgoingSms(TO, "a")).retry_after is None


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("Wed, 15 Jan 2025 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 15 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_a_hung_request_times_out(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    gateway = make_gateway(timeout=0.3)
    fake.hang_next(1, 1.5)
    started = time.monotonic()
    error = _send_error(gateway, OutgoingSms(TO, "a"))
    assert time.monotonic() - started < 1.2
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "timeout")


def test_transient_failures_for_one_number_then_success(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    fake.fail_number_times(TO, 2, status=503)
    other = send_now(gateway, OutgoingSms("+14185550999", "autre"))
    codes = [_send_error(gateway, OutgoingSms(TO, "a")).code for _ in range(2)]
    assert codes == ["http-503", "http-503"] and other.provider_id
    assert send_now(gateway, OutgoingSms(TO, "a")).status == "queued"
    assert fake.count_to(TO) == 1 and len(fake.requests) == 4


def test_unreachable_server_is_a_connection_error(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(api_base_url=f"http://127.0.0.1:{free_port()}")
    error = _send_error(gateway, OutgoingSms(TO, "a"))
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "connection")


def test_wrong_credentials_are_a_clear_error_without_the_token(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    wrong = "f" * 32
    error = _send_error(make_gateway(auth_token=wrong), OutgoingSms(TO, "a"))
    assert (error.kind, error.code, error.http_status) == (ErrorKind.OTHER, "20003", 401)
    assert "credentials" in str(error)
    assert fake.messages == []
    for secret in (wrong, fake.auth_token):
        assert secret not in str(error)


def test_the_auth_token_never_appears_in_errors(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    # Twilio-sized token, as the real one; every failure path, message and traceback.
    gateway = make_gateway(timeout=0.3)
    errors = []
    injections: list[Callable[[], None]] = [
        lambda: fake.fail_next(1, 429, 20429, retry_after=1),
        lambda: fake.fail_next(1, 500, None, plain_text=True),
        lambda: fake.drop_connection_next(1),
        lambda: fake.hang_next(1, 1.0),
    ]
    for inject in injections:
        inject()
        errors.append(_send_error(gateway, OutgoingSms(TO, "a")))
    errors.append(_send_error(gateway, OutgoingSms(TO, "")))
    down = make_gateway(api_base_url=f"http://127.0.0.1:{free_port()}")
    errors.append(_send_error(down, OutgoingSms(TO, "a")))
    for error in errors:
        # The SDK/requests exception (its request holds the Authorization header) is detached.
        assert error.__cause__ is None and error.__context__ is None
        shown = "".join(traceback.format_exception(error)) + repr(error) + repr(vars(error))
        assert fake.auth_token not in shown
    assert fake.auth_token not in repr(gateway)


# -- many dispatcher slots, on two event loops, share one gateway ----------------------------


def test_many_tasks_on_two_loops_share_one_gateway(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    slots, total = 32, 2000
    gateway = make_gateway(pool_size=slots)
    fake.latency(0.002)  # overlap the requests so the pool is really shared
    numbers = [f"+1418{i:07d}" for i in range(total)]
    receipts: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    async def slot(chunk: list[str]) -> None:
        for number in chunk:
            try:
                receipt = await gateway.send(OutgoingSms(number, "Déneigement: stationnement"))
            except BaseException as exc:  # collect everything: the assertion reports it
                with lock:
                    failures.append(exc)
            else:
                with lock:
                    receipts.append(receipt.provider_id)

    async def dispatcher(half: list[str]) -> None:
        try:
            await asyncio.gather(*(slot(half[n::slots]) for n in range(slots)))
        finally:
            await gateway.aclose()

    # Two dispatchers in two threads, each with its own loop, as `alerts serve` may run.
    loops = [
        threading.Thread(target=asyncio.run, args=(dispatcher(numbers[h::2]),)) for h in (0, 1)
    ]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join()

    assert failures == []
    assert len(receipts) == len(set(receipts)) == total
    sent_to = Counter(request.form["To"] for request in fake.requests)
    assert sent_to == Counter(numbers)  # every request recorded exactly once
    assert {m["sid"] for m in fake.messages} == set(receipts)
    # Connections are reused: at most a pool per loop, whatever the number of messages.
    connections = {request.client for request in fake.requests}
    assert 2 <= len(connections) <= 2 * slots, len(connections)


def test_fake_validates_like_twilio(fake: FakeTwilio) -> None:
    url = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    auth = (fake.account_sid, fake.auth_token)
    cases = [
        ({"From": SENDER, "Body": "a"}, 21604),
        ({"To": TO, "From": SENDER}, 21602),
        ({"To": TO, "Body": "a"}, 21603),
    ]
    with httpx2.Client(base_url=fake.base_url, trust_env=False) as http:
        for form, code in cases:
            answer = http.post(url, data=form, auth=auth)
            assert answer.status_code == 400
            assert answer.json() == {
                "code": code,
                "message": answer.json()["message"],
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": 400,
            }
        wrong = http.post(url, data={"To": TO, "From": SENDER, "Body": "a"}, auth=("AC1", "x"))
        missing = http.get(url.replace(".json", "/SM" + "0" * 32 + ".json"), auth=auth)
    assert (wrong.status_code, wrong.json()["code"]) == (401, 20003)
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)


def test_fake_serves_a_created_message(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    receipt = send_now(make_gateway(), OutgoingSms(TO, "Avis"))
    path = f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{receipt.provider_id}.json"
    with httpx2.Client(base_url=fake.base_url, trust_env=False) as http:
        answer = http.get(path, auth=(fake.account_sid, fake.auth_token))
    assert answer.status_code == 200
    assert answer.json()["sid"] == receipt.provider_id and answer.json()["uri"] == path
    assert fake.count_to(TO) == 1


# -- looking for a lost send in Twilio's message log -----------------------------------------

TEXT = "Déneigement ce soir: stationnement interdit rue des Érables"


def _find(
    gateway: TwilioGateway,
    to: str,
    body: str,
    since: datetime,
    exclude: frozenset[str] = frozenset(),
) -> SendReceipt | None:
    """find_sent on an event loop of its own, as send_now does for send."""

    async def once() -> SendReceipt | None:
        try:
            return await gateway.find_sent(to, body, since, exclude)
        finally:
            await gateway.aclose()

    return asyncio.run(once())


def _find_error(gateway: TwilioGateway, since: datetime) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        _find(gateway, TO, TEXT, since)
    return caught.value


def _now() -> datetime:
    """Now to the second: Twilio's date_created has no finer grain."""
    return datetime.now(UTC).replace(microsecond=0)


def _lists(fake: FakeTwilio) -> list[dict[str, str]]:
    """The query of each list request the fake received."""
    listed = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/Messages.json")]
    return [r.form for r in listed]


def test_find_sent_finds_a_message_just_sent(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    assert isinstance(gateway, MessageLog)
    since = _now()
    receipt = send_now(gateway, OutgoingSms(TO, TEXT))
    found = _find(gateway, TO, TEXT, since)
    assert found is not None
    assert (found.provider_id, found.status, found.segments) == (
        receipt.provider_id,
        "queued",
        receipt.segments,
    )
    # One page of our messages to that number, and no DateSent filter.
    assert _lists(fake) == [{"To": TO, "From": SENDER, "PageSize": str(LOG_PAGE_SIZE)}]
    # A naive `since` means UTC.
    again = _find(gateway, TO, TEXT, since.replace(tzinfo=None))
    assert again is not None and again.provider_id == receipt.provider_id


def test_find_sent_ignores_what_is_not_this_message(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    since = _now()
    before = fake.add_message(TO, TEXT, sender=SENDER, created_at=since - timedelta(seconds=1))
    fake.add_message(TO, TEXT + ".", sender=SENDER, created_at=since)
    fake.add_message("+14185550999", TEXT, sender=SENDER, created_at=since)
    fake.add_message(TO, TEXT, sender=OTHER_SENDER, created_at=since + timedelta(seconds=1))
    fake.add_message(TO, TEXT, service=OTHER_SERVICE, created_at=since + timedelta(seconds=1))
    assert len(fake.messages) == 5

    assert _find(gateway, TO, TEXT, since) is None  # `before` is older than `since`
    assert _find(gateway, TO, TEXT, since - timedelta(seconds=1)) == SendReceipt(
        provider_id=before, status="queued", segments=1
    )
    assert _find(gateway, TO, "Autre avis", since - timedelta(hours=1)) is None
    assert _find(gateway, "+14185550888", TEXT, since - timedelta(hours=1)) is None


def test_find_sent_skips_excluded_sids(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    since = _now()
    older = fake.add_message(TO, TEXT, sender=SENDER, created_at=since + timedelta(seconds=1))
    newer = fake.add_message(TO, TEXT, sender=SENDER, created_at=since + timedelta(seconds=2))

    def sid(exclude: set[str]) -> str | None:
        found = _find(gateway, TO, TEXT, since, frozenset(exclude))
        return None if found is None else found.provider_id

    assert sid(set()) == newer
    assert sid({newer}) == older
    assert sid({newer, older}) is None


def test_find_sent_with_a_messaging_service_matches_the_service(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway(from_number=None, messaging_service_sid=SERVICE)
    since = _now()
    ours = fake.add_message(TO, TEXT, service=SERVICE, created_at=since + timedelta(seconds=1))
    fake.add_message(TO, TEXT, service=OTHER_SERVICE, created_at=since + timedelta(seconds=2))
    fake.add_message(TO, TEXT, sender=SENDER, created_at=since + timedelta(seconds=3))
    found = _find(gateway, TO, TEXT, since)
    assert found is not None and (found.provider_id, found.status) == (ours, "accepted")
    # Twilio picks the service's sender: no From filter.
    assert _lists(fake) == [{"To": TO, "PageSize": str(LOG_PAGE_SIZE)}]
    sent = send_now(gateway, OutgoingSms(TO, "Collecte des bacs bruns demain"))
    found = _find(gateway, TO, "Collecte des bacs bruns demain", since)
    assert found is not None and found.provider_id == sent.provider_id
    assert _find(gateway, TO, TEXT, since + timedelta(seconds=2)) is None


def test_find_sent_finds_a_message_twilio_still_holds_queued(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    # The whole point: a paced message has no date_sent for minutes; it must still be found.
    fake.queue_for(120)
    gateway = make_gateway()
    since = _now()
    receipt = send_now(gateway, OutgoingSms(TO, TEXT))
    [listed] = fake.messages
    assert (listed["status"], listed["date_sent"]) == ("queued", None)
    found = _find(gateway, TO, TEXT, since)
    assert found is not None and (found.provider_id, found.status) == (
        receipt.provider_id,
        "queued",
    )
    # One Twilio has sent since: found too, with its new status.
    old = fake.add_message(
        "+14185550999", TEXT, sender=SENDER, created_at=since - timedelta(seconds=300)
    )
    found = _find(gateway, "+14185550999", TEXT, since - timedelta(hours=1))
    assert found is not None and (found.provider_id, found.status) == (old, "sent")


def test_find_sent_reads_past_the_first_page(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    since = _now() - timedelta(hours=1)
    target = fake.add_message(TO, TEXT, sender=SENDER, created_at=since + timedelta(seconds=1))
    for i in range(LOG_PAGE_SIZE + 30):  # newer messages to the same number, other texts
        fake.add_message(
            TO, f"Avis {i}", sender=SENDER, created_at=since + timedelta(seconds=2, milliseconds=i)
        )
    found = _find(gateway, TO, TEXT, since)
    assert found is not None and found.provider_id == target
    assert fake.list_requests == 2
    assert _lists(fake)[1]["PageToken"].startswith("PA")


def test_find_sent_stops_at_the_first_message_older_than_since(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    since = _now() - timedelta(hours=1)
    for i in range(2 * LOG_PAGE_SIZE + 50):  # older than `since`, the same text
        fake.add_message(TO, TEXT, sender=SENDER, created_at=since - timedelta(seconds=1 + i))
    fake.add_message(TO, "Autre avis", sender=SENDER, created_at=since + timedelta(seconds=1))
    assert _find(gateway, TO, TEXT, since) is None
    assert fake.list_requests == 1  # newest first: nothing further down can be newer


def test_find_sent_reads_at_most_ten_pages(fake: FakeTwilio, make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    since = _now() - timedelta(hours=1)
    limit = LOG_MAX_PAGES * LOG_PAGE_SIZE
    target = fake.add_message(TO, TEXT, sender=SENDER, created_at=since + timedelta(seconds=1))
    for i in range(limit - 1):  # the target is the last message of the last page read
        created = since + timedelta(seconds=2 + i)
        fake.add_message(TO, f"Avis {i}", sender=SENDER, created_at=created)
    found = _find(gateway, TO, TEXT, since)
    assert found is not None and found.provider_id == target
    assert fake.list_requests == LOG_MAX_PAGES

    # One more newer message pushes it out of reach: an error, not a false "never sent".
    fake.add_message(TO, "Avis de trop", sender=SENDER, created_at=since + timedelta(hours=1))
    error = _find_error(gateway, since)
    assert (error.kind, error.code) == (ErrorKind.OTHER, "log-too-long")
    assert not error.retryable
    assert "4185550123" not in str(error)
    assert fake.list_requests - LOG_MAX_PAGES >= LOG_MAX_PAGES


@pytest.mark.parametrize(
    ("inject", "kind", "code", "status", "retry_after"),
    [
        pytest.param(
            lambda f: f.fail_list_next(1, status=429, code=20429, retry_after=7),
            ErrorKind.RETRYABLE,
            "20429",
            429,
            7.0,
            id="429",
        ),
        pytest.param(
            lambda f: f.fail_list_next(1, status=503, code=None),
            ErrorKind.RETRYABLE,
            "http-503",
            503,
            None,
            id="503",
        ),
    ],
)
def test_a_refused_log_request_is_a_classified_gateway_error(
    fake: FakeTwilio,
    make_gateway: MakeGateway,
    inject: Callable[[FakeTwilio], None],
    kind: ErrorKind,
    code: str,
    status: int,
    retry_after: float | None,
) -> None:
    gateway = make_gateway()
    since = _now()
    sent = send_now(gateway, OutgoingSms(TO, TEXT))
    inject(fake)
    error = _find_error(gateway, since)
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert error.retry_after == retry_after
    assert error.retryable and "4185550123" not in str(error)
    assert error.__cause__ is None and error.__context__ is None
    # The next look-up succeeds.
    found = _find(gateway, TO, TEXT, since)
    assert found is not None and found.provider_id == sent.provider_id


def test_a_log_look_up_with_wrong_credentials_says_so(
    fake: FakeTwilio, make_gateway: MakeGateway
) -> None:
    wrong = "f" * 32
    error = _find_error(make_gateway(auth_token=wrong), _now())
    assert (error.kind, error.code, error.http_status) == (ErrorKind.OTHER, "20003", 401)
    assert "credentials" in str(error)
    shown = "".join(traceback.format_exception(error)) + repr(vars(error))
    assert wrong not in shown and fake.auth_token not in shown
    assert fake.list_requests == 1


class _CallbackSink(ThreadingHTTPServer):
    """Receives status callbacks like alerts' /sms/status would."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CallbackHandler)
        self.received: list[tuple[str, dict[str, str], str]] = []
        self.arrived = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms/status"


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackSink

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = {k: v[0] for k, v in parse_qs(raw).items()}
        self.send_response(204)
        self.end_headers()
        with self.server.arrived:
            self.server.received.append(
                (self.path, params, self.headers.get("X-Twilio-Signature", ""))
            )
            self.server.arrived.notify_all()


def test_fake_sends_signed_status_callbacks() -> None:
    sink = _CallbackSink()
    threading.Thread(target=sink.serve_forever, args=(0.05,), daemon=True).start()
    unreachable = "+14185550666"
    try:
        with FakeTwilio(send_status_callbacks=True) as fake:
            fake.fail_delivery({unreachable: 30003})
            gateway = TwilioGateway(
                fake.account_sid,
                fake.auth_token,
                from_number=SENDER,
                status_callback=sink.url,
                api_base_url=fake.base_url,
            )
            ok = send_now(gateway, OutgoingSms(TO, "a"))
            bad = send_now(gateway, OutgoingSms(unreachable, "a"))
            gateway.close()
            with sink.arrived:
                assert sink.arrived.wait_for(lambda: len(sink.received) == 4, timeout=5)
            statuses = {m["sid"]: m["status"] for m in fake.messages}
    finally:
        sink.shutdown()
        sink.server_close()

    validator = RequestValidator(fake.auth_token)
    by_sid: dict[str, list[dict[str, str]]] = {}
    for _path, params, signature in sink.received:
        assert validator.validate(sink.url, params, signature)
        by_sid.setdefault(params["MessageSid"], []).append(params)
    assert [p["MessageStatus"] for p in by_sid[ok.provider_id]] == ["sent", "delivered"]
    assert [p["MessageStatus"] for p in by_sid[bad.provider_id]] == ["sent", "undelivered"]
    assert by_sid[bad.provider_id][-1]["ErrorCode"] == "30003"
    assert classify(None, by_sid[bad.provider_id][-1]["ErrorCode"]) is ErrorKind.RETRYABLE
    assert statuses == {ok.provider_id: "delivered", bad.provider_id: "undelivered"}
