"""What `alerts status` reads: the achieved sending rate and why deliveries are unknown."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from alerts.core.composition import MessageSpec
from alerts.sending.alert_reports import alert_status
from alerts.sending.sending import AlertRequest, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Alert, Delivery
from alerts.wiring import Services
from cli import main
from tests.support.dispatch import bulk_subscribers, import_demo_zones

LOST = "cannot look it up in the provider's log: Twilio could not take the message (HTTP 503)"


def _half_sent(services: Services, ago: float = 0.0) -> int:
    """An alert to 20 people: 10 sent over 5 s ending `ago` s back (2 segments each), 2
    unknown."""
    bulk_subscribers(services, range(20), import_demo_zones(services)["Saint-Éloi"])
    request = AlertRequest("info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Avis"))
    alert_id = send_alert(services, request).alert_id
    now = services.clock()
    with services.session() as session:
        ids = list(session.execute(select(Delivery.id).order_by(Delivery.id)).scalars())
        for k, delivery_id in enumerate(ids[:10], start=1):
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(state="sent", segments=2, sent_at=now - timedelta(seconds=ago + 0.5 * k))
            )
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[10:12]))
            .values(state="unknown", error_message=LOST)
        )
        session.execute(update(Alert).where(Alert.id == alert_id).values(state="sending"))
    return alert_id


def test_status_reports_the_achieved_rate_and_the_unknown_reasons(services: Services) -> None:
    at = services.clock()
    services.clock = lambda: at  # the status is read at the moment the sends are dated from
    alert_id = _half_sent(services)
    status = alert_status(services, alert_id)
    rate = status["rate"]
    assert rate["recent_messages_per_second"] == pytest.approx(2.0, rel=0.05)
    assert rate["recent_segments_per_second"] == pytest.approx(4.0, rel=0.05)
    assert rate["average_messages_per_second"] == pytest.approx(2.0, rel=0.05)
    assert (rate["configured"], rate["unit"]) == (1.0, "segments")
    assert status["unknown_reasons"] == {LOST: 2}


def test_a_finished_alert_has_no_recent_rate(services: Services) -> None:
    alert_id = _half_sent(services, ago=300)
    rate = alert_status(services, alert_id)["rate"]
    assert rate["recent_messages_per_second"] == 0.0
    assert rate["average_messages_per_second"] == pytest.approx(2.0, rel=0.05)


def test_the_status_command_prints_the_rate_while_sending(
    services: Services,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alert_id = _half_sent(services)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("ALERTS_") and not name.startswith("ALERTS_REQUIRE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALERTS_DATABASE_URL", database_url)
    assert main(["status", str(alert_id)]) == 0
    out = capsys.readouterr().out
    # About 2 msg/s (10 in the last 5 s, a little less as the command starts up).
    shown = re.search(r"sending at ([\d.]+) msg/s \(([\d.]+) seg/s\) over the last 10 s", out)
    assert shown is not None, out
    messages, segments = float(shown[1]), float(shown[2])
    assert 1.0 <= messages <= 2.05 and 1.9 * messages <= segments <= 2.1 * messages
    assert "configured 1 seg/s" in out
    assert f"2 unknown: {LOST}" in out
