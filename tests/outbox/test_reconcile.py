"""Lost answers: looked up in the provider's log before anything is sent again.

A worker that dies mid-request, or a request that times out, leaves a delivery that may or
may not have reached Twilio. With the Twilio gateway it is looked up in Twilio's message log
(the fake's `GET .../Messages.json`); the console and file gateways keep no log and follow
`dispatch.on_expired_lease`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.gateways.gateway import FileGateway
from alerts.outbox.dispatch import run_worker
from alerts.sending.alert_reports import alert_status
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Delivery
from alerts.wiring import Services, build
from tests.support.dispatch import (
    FAST,
    SENDER,
    bulk_subscribers,
    import_demo_zones,
    phone,
    twilio_services,
)
from tests.support.fake_twilio import FakeTwilio

TEXT = "Avis de déneigement"


@pytest.fixture
def town(settings: Settings, fake: FakeTwilio) -> Iterator[tuple[Services, int]]:
    """Services sending to the fake; yields them and Saint-Éloi's zone id."""
    services = twilio_services(settings, fake)
    yield services, import_demo_zones(services)["Saint-Éloi"]
    services.close()


def _alert(services: Services, text: str = TEXT) -> int:
    request = AlertRequest("info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text=text))
    return send_alert(services, request).alert_id


def _die_mid_request(services: Services, count: int, claimed_ago: float = 10.0) -> list[int]:
    """The first `count` rows as a dead worker leaves them: `sending`, the lease expired."""
    now = services.clock()
    with services.session() as session:
        ids = list(session.execute(select(Delivery.id).order_by(Delivery.id)).scalars())[:count]
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(
                state="sending",
                lease_owner="dead-worker",
                lease_until=now - timedelta(seconds=1),
                claimed_at=now - timedelta(seconds=claimed_ago),
                attempts=1,
            )
        )
    return ids


def _provider_ids(services: Services) -> dict[int, str | None]:
    with services.session(read_only=True) as session:
        return dict(session.execute(select(Delivery.id, Delivery.provider_id)).all())


def test_what_reached_twilio_is_recorded_and_what_did_not_is_sent_once(
    town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = town
    bulk_subscribers(services, range(5), zone)
    alert_id = _alert(services)
    first, _second = _die_mid_request(services, 2)
    # Twilio took the first before the worker died, and paces it: still queued, no date_sent.
    fake.queue_for(120)
    sid = fake.add_message(
        phone(0), TEXT, sender=SENDER, created_at=services.clock() - timedelta(seconds=9)
    )
    report = run_worker(services, until_idle=True)
    assert (report.looked_up, report.reconciled, report.unknown) == (2, 1, 0)
    assert report.sent == 4  # the second and the three never claimed
    assert [fake.count_to(phone(n)) for n in range(5)] == [1, 1, 1, 1, 1]
    assert _provider_ids(services)[first] == sid
    status = alert_status(services, alert_id)
    assert status["state"] == "done"
    assert status["deliveries"]["sent"] == 5 and status["deliveries"]["unknown"] == 0
    assert status["uncertain"] == 0  # nothing was sent twice: nothing to doubt
    # The look-up never filtered on DateSent: it would have missed the queued message.
    lists = [r for r in fake.requests if r.method == "GET" and r.path.endswith("Messages.json")]
    assert len(lists) == 2
    assert all(not any(k.startswith("DateSent") for k in r.form) for r in lists)
    assert {r.form["To"] for r in lists} == {phone(0), phone(1)}
    assert {r.form["From"] for r in lists} == {SENDER}


def test_only_messages_created_since_the_claim_and_not_already_recorded_count(
    town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = town
    bulk_subscribers(services, range(2), zone)
    earlier = _alert(services)
    run_worker(services, until_idle=True)  # yesterday's identical text, recorded
    with services.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.alert_id == earlier)
            .values(sent_at=services.clock() - timedelta(seconds=3))
        )
    # An identical text to phone(1) long before this claim: not this delivery's message.
    fake.add_message(
        phone(1), TEXT, sender=SENDER, created_at=services.clock() - timedelta(hours=2)
    )
    # Same text, another sender: not ours.
    fake.add_message(
        phone(1), TEXT, sender="+15005550009", created_at=services.clock() - timedelta(seconds=1)
    )
    alert_id = _alert(services)
    with services.session() as session:  # both rows of the new alert die mid-request
        session.execute(
            update(Delivery)
            .where(Delivery.alert_id == alert_id)
            .values(
                state="sending",
                lease_owner="dead-worker",
                lease_until=services.clock() - timedelta(seconds=1),
                claimed_at=services.clock() - timedelta(seconds=5),
                attempts=1,
            )
        )
    report = run_worker(services, until_idle=True)
    # phone(0)'s only match is the earlier alert's message, whose SID is recorded: excluded.
    assert (report.looked_up, report.reconciled) == (2, 0)
    assert fake.count_to(phone(0)) == 2 and fake.count_to(phone(1)) == 4
    assert alert_status(services, alert_id)["deliveries"]["sent"] == 2


def test_look_ups_are_bounded_by_the_uncertain_deliveries_not_the_alert(
    town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = town
    bulk_subscribers(services, range(1_000), zone)
    _alert(services)
    _die_mid_request(services, 3)
    report = run_worker(services, until_idle=True)
    assert report.sent == 1_000 and report.looked_up == 3
    assert fake.list_requests == 3
    assert len(fake.messages) == 1_000


def test_a_throttled_look_up_is_tried_again_then_settles(
    town: tuple[Services, int], fake: FakeTwilio
) -> None:
    services, zone = town
    bulk_subscribers(services, range(1), zone)
    _alert(services)
    _die_mid_request(services, 1)
    fake.add_message(
        phone(0), TEXT, sender=SENDER, created_at=services.clock() - timedelta(seconds=5)
    )
    fake.fail_list_next(2, status=429, code=20429, retry_after=0)
    report = run_worker(services, until_idle=True)
    assert fake.list_requests == 3
    assert (report.reconciled, report.unknown, report.sent) == (1, 0, 0)
    assert fake.count_to(phone(0)) == 1


def test_a_log_that_cannot_be_read_leaves_the_delivery_unknown_with_the_reason(
    settings: Settings, fake: FakeTwilio
) -> None:
    services = twilio_services(settings, fake, **{"dispatch.reconcile_attempts": 3})
    bulk_subscribers(services, range(2), import_demo_zones(services)["Saint-Éloi"])
    alert_id = _alert(services)
    _die_mid_request(services, 1)
    fake.fail_list_next(10, status=503, code=None)
    report = run_worker(services, until_idle=True)
    services.close()
    assert fake.list_requests == 3
    assert (report.unknown, report.sent) == (1, 1)
    assert fake.count_to(phone(0)) == 0  # never sent blind
    status = alert_status(services, alert_id)
    assert status["deliveries"]["unknown"] == 1 and status["state"] == "done"
    [(reason, count)] = status["unknown_reasons"].items()
    assert count == 1 and "provider's log" in reason and "503" in reason


def test_an_account_error_on_the_log_does_not_count_against_the_delivery(
    settings: Settings, fake: FakeTwilio
) -> None:
    services = twilio_services(settings, fake, **{"dispatch.reconcile_attempts": 2})
    bulk_subscribers(services, range(1), import_demo_zones(services)["Saint-Éloi"])
    alert_id = _alert(services)
    _die_mid_request(services, 1)
    fake.add_message(
        phone(0), TEXT, sender=SENDER, created_at=services.clock() - timedelta(seconds=5)
    )
    fake.fail_list_next(3, status=401, code=20003)  # credentials being rotated, say
    report = run_worker(services, until_idle=True)
    services.close()
    assert fake.list_requests == 4
    assert (report.reconciled, report.unknown) == (1, 0)
    assert fake.count_to(phone(0)) == 1
    assert alert_status(services, alert_id)["deliveries"]["sent"] == 1


def test_a_delivery_whose_attempts_are_spent_fails_instead_of_looping(
    settings: Settings, fake: FakeTwilio
) -> None:
    services = twilio_services(settings, fake, **{"dispatch.max_attempts": 1})
    bulk_subscribers(services, range(1), import_demo_zones(services)["Saint-Éloi"])
    alert_id = _alert(services)
    _die_mid_request(services, 1)  # its one attempt was the lost one; the log has nothing
    report = run_worker(services, until_idle=True)
    services.close()
    assert (report.looked_up, report.failed, report.sent) == (1, 1, 0)
    assert fake.count_to(phone(0)) == 0
    status = alert_status(services, alert_id)
    assert status["deliveries"]["failed"] == 1 and status["state"] == "done"


def test_a_timed_out_send_is_looked_up_not_resent(settings: Settings, fake: FakeTwilio) -> None:
    services = twilio_services(settings, fake, timeout=0.3)
    bulk_subscribers(services, range(1), import_demo_zones(services)["Saint-Éloi"])
    alert_id = _alert(services)
    fake.hang_next(1, 0.6)  # Twilio takes it, but answers after our timeout
    report = run_worker(services, until_idle=True)
    services.close()
    assert (report.looked_up, report.reconciled, report.sent) == (1, 1, 0)
    assert fake.count_to(phone(0)) == 1
    status = alert_status(services, alert_id)
    assert status["deliveries"]["sent"] == 1 and status["uncertain"] == 0
    with services.session(read_only=True) as session:
        note = session.execute(select(Delivery.error_message)).scalar_one()
    assert note is not None and "found in the provider's log" in note


@pytest.mark.parametrize(("policy", "state"), [("resend", "sent"), ("mark_unknown", "unknown")])
def test_gateways_without_a_log_follow_the_expired_lease_policy(
    settings: Settings, tmp_path: Path, policy: str, state: str
) -> None:
    outbox = tmp_path / "sms.jsonl"
    tuned = settings.with_overrides(**{**FAST, "dispatch.on_expired_lease": policy})
    services = build(tuned, gateway=FileGateway(outbox))
    bulk_subscribers(services, range(3), import_demo_zones(services)["Saint-Éloi"])
    alert_id = _alert(services)
    _die_mid_request(services, 1)
    report = run_worker(services, until_idle=True)
    services.close()
    assert (report.uncertain, report.looked_up) == (1, 0)
    sent_to = [json.loads(line)["to"] for line in outbox.read_text().splitlines()]
    assert sorted(sent_to) == sorted([phone(0), phone(1), phone(2)][policy != "resend" :])
    status = alert_status(services, alert_id)
    assert status["deliveries"][state] >= 1 and status["state"] == "done"
    assert status["uncertain"] == 1
