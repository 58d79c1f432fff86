"""FakeTwilio's message log (GET .../Messages.json) read through the SDK and raw HTTP."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tests.support.fake_twilio import FakeTwilio

SENDER = "+15005550006"
OTHER_SENDER = "+15005550009"
SERVICE = "MG" + "2" * 32
TO = "+14185550123"
OTHER = "+14185550999"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[Client]:
    """The official SDK's synchronous client, pointed at the fake."""
    http = TwilioHttpClient()
    assert http.session is not None
    http.session.trust_env = False  # no proxy from the environment for 127.0.0.1
    sdk = Client(fake.account_sid, fake.auth_token, http_client=http)
    sdk.edge = None
    sdk.region = None
    sdk.api.base_url = fake.base_url
    yield sdk
    http.session.close()


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(
    fake: FakeTwilio, query: dict[str, str | int] | str = "", *, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """GET the list (a dict, or a query string, or a full path + query) with raw HTTP."""
    if isinstance(query, str) and query.startswith("/"):
        target = query
    else:
        encoded = query if isinstance(query, str) else urlencode(query)
        target = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json?{encoded}"
    request = urllib.request.Request(fake.base_url + target)
    user, password = auth or (fake.account_sid, fake.auth_token)
    request.add_unredirected_header("Authorization", _basic(user, password))
    try:
        with _DIRECT.open(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers.items())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), dict(error.headers.items())


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _sids(page: dict[str, Any]) -> list[str]:
    return [m["sid"] for m in page["messages"]]


def _add_series(fake: FakeTwilio, n: int, *, to: str = TO, start: datetime = T0) -> list[str]:
    """n messages a minute apart, sent 5 s after creation; their sids, newest first."""
    sids = [
        fake.add_message(
            to,
            f"avis {i}",
            sender=SENDER,
            created_at=start + timedelta(minutes=i),
            sent_at=start + timedelta(minutes=i, seconds=5),
        )
        for i in range(n)
    ]
    return sids[::-1]


# -- filters ---------------------------------------------------------------------------------


def test_to_and_from_filters(fake: FakeTwilio, client: Client) -> None:
    mine = fake.add_message(TO, "a", sender=SENDER, created_at=T0)
    other_sender = fake.add_message(TO, "b", sender=OTHER_SENDER, created_at=T0)
    other_number = fake.add_message(OTHER, "c", sender=SENDER, created_at=T0)
    service = fake.add_message(TO, "d", service=SERVICE, created_at=T0)

    def sids(**filters: Any) -> set[str]:
        return {m.sid for m in client.messages.list(**filters)}

    assert sids() == {mine, other_sender, other_number, service}
    assert sids(to=TO) == {mine, other_sender, service}
    assert sids(from_=SENDER) == {mine, other_number}
    assert sids(to=TO, from_=SENDER) == {mine}
    assert sids(to=TO, from_=OTHER_SENDER) == {other_sender}
    assert sids(to="+14185550000") == set()
    # A message through a Messaging Service has no From until Twilio picks a sender.
    [record] = client.messages.list(to=TO, from_=SENDER)
    assert (record.to, record.from_, record.body) == (TO, SENDER, "a")


def test_newest_first_by_creation_time_then_creation_order(
    fake: FakeTwilio, client: Client
) -> None:
    middle = fake.add_message(TO, "middle", sender=SENDER, created_at=T0)
    oldest = fake.add_message(TO, "oldest", sender=SENDER, created_at=T0 - timedelta(hours=1))
    newest = fake.add_message(TO, "newest", sender=SENDER, created_at=T0 + timedelta(hours=1))
    # Same second as `middle`, created after it: listed before it.
    twin = fake.add_message(TO, "twin", sender=SENDER, created_at=T0)
    sent = client.messages.create(to=TO, from_=SENDER, body="just now")
    listed = client.messages.list(to=TO)
    assert [m.sid for m in listed] == [sent.sid, newest, twin, middle, oldest]
    # date_created is RFC 2822, which the SDK parses into aware datetimes.
    by_sid = {m.sid: m for m in listed}
    assert by_sid[newest].date_created == T0 + timedelta(hours=1)
    assert by_sid[oldest].date_created == T0 - timedelta(hours=1)
    assert abs(by_sid[sent.sid].date_created - datetime.now(UTC)) < timedelta(seconds=5)
    # A naive created_at means UTC; microseconds are dropped like Twilio's seconds.
    naive = fake.add_message(
        OTHER, "n", sender=SENDER, created_at=datetime(2024, 1, 2, 3, 4, 5, 678_000)
    )
    assert client.messages(naive).fetch().date_created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_date_sent_selects_one_utc_day(fake: FakeTwilio, client: Client) -> None:
    def at(moment: datetime) -> str:
        return fake.add_message(TO, "x", sender=SENDER, created_at=moment, sent_at=moment)

    at(datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC))
    first = at(datetime(2024, 5, 2, 0, 0, 0, tzinfo=UTC))
    # 20:30 in Québec on the 2nd is 00:30 UTC on the 3rd.
    at(datetime(2024, 5, 2, 20, 30, tzinfo=UTC) + timedelta(hours=4))
    last = at(datetime(2024, 5, 2, 23, 59, 59, tzinfo=UTC))

    status, page, _ = _get(fake, {"DateSent": "2024-05-02"})
    assert status == 200 and set(_sids(page)) == {first, last}
    # The SDK sends a datetime (2024-05-02T00:00:00Z): it stands for its day.
    assert {m.sid for m in client.messages.list(date_sent=datetime(2024, 5, 2, tzinfo=UTC))} == {
        first,
        last,
    }
    assert _get(fake, {"DateSent": "2024-05-04"})[1]["messages"] == []


def test_date_sent_before_and_after_are_inclusive(fake: FakeTwilio, client: Client) -> None:
    days = {
        day: fake.add_message(
            TO, f"d{day}", sender=SENDER, created_at=T0, sent_at=datetime(2024, 5, day, 18, 0, 0)
        )
        for day in (1, 2, 3, 4)
    }

    def raw(query: dict[str, str] | str) -> set[str]:
        status, page, _ = _get(fake, query)
        assert status == 200, page
        return set(_sids(page))

    # A day: on or before / on or after that whole day.
    assert raw({"DateSent<": "2024-05-02"}) == {days[1], days[2]}
    assert raw({"DateSent>": "2024-05-03"}) == {days[3], days[4]}
    assert raw({"DateSent>": "2024-05-02", "DateSent<": "2024-05-03"}) == {days[2], days[3]}
    # The description's old `DateSent<=YYYY-MM-DD` spelling is the same parameter on the wire.
    assert raw("DateSent<=2024-05-02") == raw({"DateSent<": "2024-05-02"})
    assert raw("DateSent>=2024-05-04") == {days[4]}
    # A datetime is precise, and still inclusive.
    assert raw({"DateSent>": "2024-05-02T18:00:00Z"}) == {days[2], days[3], days[4]}
    assert raw({"DateSent>": "2024-05-02T18:00:01Z"}) == {days[3], days[4]}
    assert raw({"DateSent<": "2024-05-02T18:00:00+00:00"}) == {days[1], days[2]}
    assert raw({"DateSent<": "2024-05-02T13:59:59-04:00"}) == {days[1]}
    assert raw({"DateSent>": "Thu, 02 May 2024 18:00:01 +0000"}) == {days[3], days[4]}
    # Through the SDK (which sends ISO 8601 datetimes).
    after = client.messages.list(date_sent_after=datetime(2024, 5, 3, 18, tzinfo=UTC))
    before = client.messages.list(date_sent_before=datetime(2024, 5, 1, 18, tzinfo=UTC))
    assert {m.sid for m in after} == {days[3], days[4]}
    assert [m.sid for m in before] == [days[1]]
    assert before[0].date_sent == datetime(2024, 5, 1, 18, tzinfo=UTC)


def test_a_queued_message_has_no_date_sent_so_date_filters_miss_it(
    fake: FakeTwilio, client: Client
) -> None:
    # The pitfall a log look-up must avoid: Twilio paces messages, which wait `queued`.
    sent = client.messages.create(to=TO, from_=SENDER, body="Déneigement ce soir")
    today = datetime.now(UTC)
    yesterday = today - timedelta(days=1)
    assert [m.sid for m in client.messages.list(to=TO)] == [sent.sid]
    [record] = client.messages.list(to=TO)
    assert record.status == "queued" and record.date_sent is None
    assert client.messages.list(to=TO, date_sent=today) == []
    assert client.messages.list(to=TO, date_sent_after=yesterday) == []
    assert client.messages.list(to=TO, date_sent_before=today + timedelta(days=1)) == []
    status, page, _ = _get(fake, {"To": TO, "DateSent>": f"{yesterday:%Y-%m-%d}"})
    assert status == 200 and page["messages"] == []


# -- queue_for -------------------------------------------------------------------------------


def test_without_queue_for_messages_stay_queued(fake: FakeTwilio, client: Client) -> None:
    old = fake.add_message(TO, "a", sender=SENDER, created_at=T0)
    via_service = fake.add_message(TO, "b", service=SERVICE, created_at=T0)
    fetched = {sid: client.messages(sid).fetch() for sid in (old, via_service)}
    assert [(m.status, m.date_sent) for m in fetched.values()] == [
        ("queued", None),
        ("accepted", None),
    ]
    assert {m["status"] for m in fake.messages} == {"queued", "accepted"}


def test_queue_for_keeps_young_messages_queued_then_reports_them_sent(
    fake: FakeTwilio, client: Client
) -> None:
    fake.queue_for(120)
    now = datetime.now(UTC)
    young = client.messages.create(to=TO, from_=SENDER, body="jeune")
    assert (young.status, young.date_sent) == ("queued", None)
    old = fake.add_message(TO, "vieux", sender=SENDER, created_at=now - timedelta(seconds=200))
    old_service = fake.add_message(
        TO, "service", service=SERVICE, created_at=now - timedelta(seconds=130)
    )
    young_service = fake.add_message(TO, "s2", service=SERVICE, created_at=now)

    fetched = client.messages(old).fetch()
    assert fetched.status == "sent"
    expected = (now - timedelta(seconds=80)).replace(microsecond=0)
    assert abs(fetched.date_sent - expected) <= timedelta(seconds=1)
    assert fetched.date_sent - fetched.date_created == timedelta(seconds=120)
    statuses = {m.sid: (m.status, m.date_sent is None) for m in client.messages.list(to=TO)}
    assert statuses == {
        young.sid: ("queued", True),
        old: ("sent", False),
        old_service: ("sent", False),
        young_service: ("accepted", True),
    }
    # Only the sent ones have a send date for DateSent filters to find.
    found = client.messages.list(to=TO, date_sent_after=now - timedelta(hours=1))
    assert {m.sid for m in found} == {old, old_service}
    # queue_for(0) is the default again: queued for ever.
    fake.queue_for(0)
    assert client.messages(old).fetch().status == "queued"
    with pytest.raises(ValueError):
        fake.queue_for(-1)


def test_queue_for_sends_once_the_time_is_up(fake: FakeTwilio, client: Client) -> None:
    fake.queue_for(0.3)
    sent = client.messages.create(to=TO, from_=SENDER, body="bientôt")
    assert client.messages(sent.sid).fetch().status == "queued"
    time.sleep(0.4)
    later = client.messages(sent.sid).fetch()
    assert later.status == "sent" and later.date_sent is not None
    assert [m.sid for m in client.messages.list(date_sent=datetime.now(UTC))] == [sent.sid]


# -- paging ----------------------------------------------------------------------------------


def test_the_sdk_follows_next_page_uri_across_pages(fake: FakeTwilio, client: Client) -> None:
    newest_first = _add_series(fake, 23)
    listed = client.messages.list(limit=100, page_size=5)
    assert [m.sid for m in listed] == newest_first
    assert fake.list_requests == 5  # 5 + 5 + 5 + 5 + 3
    pages = [r for r in fake.requests if r.method == "GET"]
    assert [r.form.get("Page") for r in pages] == [None, "1", "2", "3", "4"]
    assert all(r.form["PageSize"] == "5" for r in pages)
    # The SDK stops at its limit.
    assert [m.sid for m in client.messages.list(limit=7, page_size=5)] == newest_first[:7]
    assert fake.list_requests == 7


def test_page_shape_and_uris(fake: FakeTwilio, client: Client) -> None:
    newest_first = _add_series(fake, 12)
    fake.add_message(OTHER, "ailleurs", sender=SENDER, created_at=T0)
    path = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"

    status, first, _ = _get(fake, {"To": TO, "PageSize": 5})
    assert status == 200
    assert set(first) == {
        "messages",
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    }
    assert _sids(first) == newest_first[:5]
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 5, 0, 4)
    assert first["previous_page_uri"] is None
    assert first["uri"] == first["first_page_uri"] == f"{path}?To=%2B14185550123&PageSize=5&Page=0"
    next_uri = first["next_page_uri"]
    parts = urlsplit(next_uri)
    assert parts.path == path
    assert parse_qs(parts.query) == {
        "To": [TO],
        "PageSize": ["5"],
        "Page": ["1"],
        "PageToken": ["PA" + newest_first[4]],
    }

    status, second, _ = _get(fake, next_uri)
    assert status == 200 and _sids(second) == newest_first[5:10]
    assert (second["page"], second["start"], second["end"]) == (1, 5, 9)
    assert second["uri"] == next_uri
    status, third, _ = _get(fake, second["next_page_uri"])
    assert _sids(third) == newest_first[10:]
    assert (third["page"], third["start"], third["end"]) == (2, 10, 11)
    assert third["next_page_uri"] is None
    # previous_page_uri leads back.
    assert _sids(_get(fake, third["previous_page_uri"])[1]) == newest_first[5:10]
    assert _sids(_get(fake, second["previous_page_uri"])[1]) == newest_first[:5]
    # Page alone (no token) is an offset; past the end, an empty last page.
    assert _sids(_get(fake, {"To": TO, "PageSize": 5, "Page": 1})[1]) == newest_first[5:10]
    beyond = _get(fake, {"To": TO, "PageSize": 5, "Page": 9})[1]
    assert beyond["messages"] == [] and beyond["next_page_uri"] is None
    # Through the SDK's page(): the same pages.
    page = client.messages.page(to=TO, page_size=5)
    assert [m.sid for m in page] == newest_first[:5]
    follow = page.next_page()
    assert follow is not None and [m.sid for m in follow] == newest_first[5:10]


def test_a_page_token_is_a_cursor_new_messages_do_not_shift_it(fake: FakeTwilio) -> None:
    newest_first = _add_series(fake, 6)
    first = _get(fake, {"PageSize": 3})[1]
    fake.add_message(TO, "nouveau", sender=SENDER, created_at=T0 + timedelta(days=1))
    assert _sids(_get(fake, first["next_page_uri"])[1]) == newest_first[3:]
    # An offset page moves with the log instead.
    assert _sids(_get(fake, {"PageSize": 3, "Page": 1})[1]) == newest_first[2:5]


def test_default_and_largest_page_size(fake: FakeTwilio) -> None:
    newest_first = _add_series(fake, 60)
    page = _get(fake, "")[1]
    assert page["page_size"] == 50 and _sids(page) == newest_first[:50]
    assert page["next_page_uri"] is not None
    everything = _get(fake, {"PageSize": 1000})[1]
    assert _sids(everything) == newest_first and everything["next_page_uri"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"PageSize": "0"},
        {"PageSize": "1001"},
        {"PageSize": "abc"},
        {"PageSize": "2.5"},
        {"Page": "-1"},
        {"Page": "x"},
        {"PageToken": "XY123"},
        {"PageToken": "PA" + "SM" + "0" * 32},
        {"DateSent": "yesterday"},
        {"DateSent>": "2024-13-01"},
    ],
)
def test_bad_list_parameters_are_a_400_json_error(fake: FakeTwilio, query: dict[str, str]) -> None:
    _add_series(fake, 2)
    status, error, headers = _get(fake, query)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert error["status"] == 400 and error["code"] == 20001
    assert next(iter(query)) in error["message"]


# -- failures --------------------------------------------------------------------------------


def test_fail_list_next_answers_429_with_retry_after(fake: FakeTwilio, client: Client) -> None:
    newest_first = _add_series(fake, 3)
    fake.fail_list_next(2, retry_after=7)
    status, error, headers = _get(fake, {"To": TO})
    assert (status, error["code"], error["status"]) == (429, 20429, 429)
    assert headers["Retry-After"] == "7"
    # The SDK's Page raises a plain TwilioException carrying the response.
    with pytest.raises(TwilioException) as caught:
        client.messages.list(to=TO)
    response = caught.value.args[1]
    assert isinstance(response, Response) and response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    # Then the list answers again; creates were never affected.
    assert [m.sid for m in client.messages.list(to=TO)] == newest_first
    assert fake.list_requests == 3
    fake.fail_list_next(1, status=503, code=None)
    assert client.messages.create(to=TO, from_=SENDER, body="a").status == "queued"
    status, error, headers = _get(fake, "")
    assert status == 503 and error["code"] is None and "Retry-After" not in headers


def test_the_list_needs_the_account_credentials(fake: FakeTwilio) -> None:
    _add_series(fake, 1)
    status, error, headers = _get(fake, "", auth=(fake.account_sid, "f" * 32))
    assert (status, error["code"]) == (401, 20003)
    assert headers["WWW-Authenticate"].startswith("Basic")
    other_account = "AC" + "0" * 32
    status, error, _ = _get(
        fake,
        f"/2010-04-01/Accounts/{other_account}/Messages.json",
        auth=(fake.account_sid, fake.auth_token),
    )
    assert (status, error["code"]) == (404, 20404)
    assert fake.list_requests == 2  # counted even when refused


def test_latency_applies_to_the_list(fake: FakeTwilio) -> None:
    fake.latency(0.2)
    started = time.monotonic()
    assert _get(fake, "")[0] == 200
    assert time.monotonic() - started >= 0.2


def test_add_message_needs_a_sender(fake: FakeTwilio) -> None:
    with pytest.raises(ValueError):
        fake.add_message(TO, "a", created_at=T0)
    inbound = fake.add_message(SENDER, "STOP", sender=TO, created_at=T0, direction="inbound")
    [stored] = fake.messages
    assert stored["sid"] == inbound and stored["direction"] == "inbound"
    assert stored["status"] == "received"
    assert parsedate_to_datetime(stored["date_sent"]) == T0
