"""`alerts subscribers show PHONE --messages`: a 311 agent sees the number's texts both ways,
newest first, with the provider's error code and what it means; a number the carrier
reported invalid shows as suppressed (with its code) in `show` and `list`, not as active.

The deliveries are sent through the file gateway, then the provider's status callbacks are
applied by the webhook's use-case (record_status), as Twilio's would be."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from alerts.config import load_settings
from alerts.sending.delivery_status import record_status
from alerts.storage.models import Delivery, Subscriber
from alerts.wiring import Services, build
from cli import main
from tests.commands.conftest import cli_workspace, run, run_json

MARIE, PAUL, STRANGER = "4185550101", "4185550102", "4185550177"


@pytest.fixture
def town(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder on the test database: file gateway, demo zones, two subscribers."""
    cli_workspace(
        monkeypatch, tmp_path, database_url, file_gateway="sms.jsonl", quick_dispatch=True,
        # A 30005 is final here: no second try after the callback.
        config="[dispatch]\npoll_seconds = 0.05\nredeliver_attempts = 0\n",
        ALERTS_OPERATOR_LANGUAGE="en", COLUMNS="80",
    )  # fmt: skip
    assert main(["subscribers", "add", MARIE, "--zone", "Lac-Doré", "--lang", "en"]) == 0
    assert main(["subscribers", "add", PAUL, "--zone", "Lac-Doré"]) == 0
    return tmp_path


@pytest.fixture
def wired(town: Path) -> Iterator[Services]:
    """The same database's services, for the provider's callbacks."""
    services = build(load_settings())
    yield services
    services.close()


def callback(wired: Services, alert_id: int, phone: str, status: str, code: str) -> None:
    """The provider's status callback for the delivery of `alert_id` to `phone`."""
    with wired.session(read_only=True) as session:
        provider_id = session.execute(
            select(col(Delivery.provider_id))
            .join(Subscriber, col(Subscriber.id) == Delivery.subscriber_id)
            .where(col(Delivery.alert_id) == alert_id, col(Subscriber.phone) == "+1" + phone)
        ).scalar_one()
    assert provider_id
    record_status(wired, provider_id, status, code)


def test_a_delivery_that_failed_with_30005_is_shown_with_its_meaning(
    town: Path,
    wired: Services,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(capsys, "sms", "receive", "--from", MARIE, "HELP")
    sent = run_json(
        capsys, "send", "--kind", "info", "--all", "--yes",
        "--message-fr", "Collecte reportée", "--message-en", "Pickup postponed",
    )  # fmt: skip
    callback(wired, sent["alert_id"], MARIE, "undelivered", "30005")

    shown = run_json(capsys, "subscribers", "show", MARIE, "--messages")
    assert (shown["status"], shown["messages_total"]) == ("active", 2)
    outbound, inbound = shown["messages"]
    assert outbound["direction"] == "out" and outbound["text"] == "Pickup postponed"
    assert (outbound["state"], outbound["error_code"]) == ("undelivered", "30005")
    assert outbound["error"].startswith("unknown handset")
    assert outbound["alert_id"] == sent["alert_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[45]:00", outbound["at"])
    assert outbound["updated_at"] is not None
    assert (inbound["direction"], inbound["text"]) == ("in", "HELP")
    assert inbound["reply"] and inbound["error_code"] is None

    out = run(capsys, "subscribers", "show", MARIE, "--messages")
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "…" not in out
    assert "30005" in out and "unknown handset" in out and "undelivered" in out
    assert "Pickup postponed" in out and "HELP" in out and "reply:" in out
    assert out.index("Pickup postponed") < out.index("HELP")  # newest first
    assert not re.search(r"\d{4}-\d\d-\d\dT", out)  # times for people

    # --limit keeps the newest and says how many are left.
    latest = run_json(capsys, "subscribers", "show", MARIE, "--messages", "--limit", "1")
    assert [m["text"] for m in latest["messages"]] == ["Pickup postponed"]
    assert "1 older message(s)" in run(
        capsys, "subscribers", "show", MARIE, "--messages", "--limit", "1"
    )
    # The meaning follows the operator's language.
    monkeypatch.setenv("ALERTS_OPERATOR_LANGUAGE", "fr")
    french = " ".join(run(capsys, "subscribers", "show", MARIE, "--messages").split())
    assert "destinataire inconnu" in french, french
    assert re.search(r"(lun|mar|mer|jeu|ven|sam|dim)\. (1er|\d+) ", french)  # "jeu. 3 déc."


def test_a_number_the_carrier_reported_invalid_shows_as_suppressed(
    town: Path, wired: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = run_json(capsys, "send", "--kind", "info", "--all", "--message", "Test", "--yes")
    callback(wired, sent["alert_id"], PAUL, "failed", "21211")

    shown = run_json(capsys, "subscribers", "show", PAUL)
    assert (shown["status"], shown["error_code"]) == ("suppressed", "21211")
    assert run_json(capsys, "subscribers", "show", MARIE)["status"] == "active"
    text = run(capsys, "subscribers", "show", PAUL)
    assert "suppressed (21211: not a valid phone number)" in text
    assert "active" not in text
    listed = {view["phone"]: view for view in run_json(capsys, "subscribers", "list")}
    assert listed["+1******0102"]["status"] == "suppressed"
    assert listed["+1******0102"]["error_code"] == "21211"
    assert listed["+1******0101"]["status"] == "active"
    table = run(capsys, "subscribers", "list")
    (row,) = [line for line in table.splitlines() if "0102" in line]
    assert "suppressed" in row and "active" not in row
    message = run_json(capsys, "subscribers", "show", PAUL, "--messages")["messages"][0]
    assert (message["state"], message["error"]) == ("failed", "not a valid phone number")


def test_a_number_that_only_texted_or_was_forgotten(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "sms", "receive", "--from", STRANGER, "bonjour")
    shown = run_json(capsys, "subscribers", "show", STRANGER, "--messages")
    assert shown["status"] == "not_subscribed"
    assert [(m["direction"], m["text"]) for m in shown["messages"]] == [("in", "bonjour")]
    # Forgotten: the opt-out record is all that is left, no message.
    run(capsys, "subscribers", "forget", MARIE, "--yes")
    forgotten = run_json(capsys, "subscribers", "show", MARIE, "--messages")
    assert (forgotten["status"], forgotten["messages"]) == ("opted_out", [])
    assert main(["subscribers", "show", "4185550199", "--messages"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "+1******0199" in captured.err and "4185550199" not in captured.err
