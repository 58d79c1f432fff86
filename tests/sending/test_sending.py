"""Alerts from preview to outbox: recipients, languages, targets, schedule, cancel, reports.

Every test runs on SQLite and on PostgreSQL (the `settings` fixture).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from alerts.config import Settings
from alerts.core.composition import AlertTextTooLong, MessageSpec
from alerts.core.local_time import BadTime
from alerts.core.messages import MissingVariable
from alerts.errors import InvalidInput, UsageError
from alerts.outbox.dispatch import run_worker
from alerts.sending.alert_reports import alert_history, alert_status
from alerts.sending.cancelling import cancel_alert
from alerts.sending.sending import (
    AlertRequest,
    due_alerts,
    prepare_alert,
    queue_alert,
    release_scheduled_alert,
    send_alert,
)
from alerts.sending.targeting import BadArea, TargetSpec
from alerts.storage import store
from alerts.storage.models import Alert, Delivery, Subscriber, Subscription
from alerts.subscribers.subscribers import add_subscriber
from alerts.wiring import Services, build
from tests.support.dispatch import FAST, import_demo_zones
from zones.errors import UnknownZone

ELOI = (47.05474, -71.32966)  # inside Saint-Éloi
SNOW_VARS = {"start": "2026-12-03T19:00", "hours": "19:00-07:00"}


@pytest.fixture
def city(settings: Settings) -> Iterator[Services]:
    """The demo town's zones, a file gateway and fast dispatch settings."""
    services = build(settings.with_overrides(**FAST))
    import_demo_zones(services)
    yield services
    services.close()


def _request(kind: str = "snow", **target: object) -> AlertRequest:
    spec = TargetSpec(**target) if target else TargetSpec(zones=("Saint-Éloi",))  # type: ignore[arg-type]
    message = (
        MessageSpec(template="snow", variables=SNOW_VARS)
        if kind == "snow"
        else MessageSpec(text_fr=f"Avis {kind}", text_en=f"Notice {kind}")
    )
    return AlertRequest(kind=kind, target=spec, message=message)


def _set_status(services: Services, phone: str, status: str) -> None:
    with services.session() as session:
        session.execute(update(Subscriber).where(Subscriber.phone == phone).values(status=status))


def _people(city: Services) -> None:
    """A neighbourhood's worth of edge cases, each named by its last digits."""
    add_subscriber(city, "4185550101", zone="Saint-Éloi", lang="fr")  # reached
    add_subscriber(city, "4185550102", zone="Lac-Doré", lang="en")  # reached, in English
    add_subscriber(city, "4185550103", zone="Saint-Éloi", lang="fr")  # two zones: once
    add_subscriber(city, "4185550103", zone="Lac-Doré")
    add_subscriber(city, "4185550104", zone="Saint-Éloi", topics="radar")  # no snow topic
    add_subscriber(city, "4185550105", zone="Saint-Éloi")
    _set_status(city, "+14185550105", "pending")  # never confirmed
    add_subscriber(city, "4185550106", zone="Saint-Éloi")
    _set_status(city, "+14185550106", "opted_out")
    add_subscriber(city, "4185550107", zone="Saint-Éloi")
    with city.session() as session:  # suppressed but somehow still marked active
        store.suppress(session, "+14185550107", "invalid", city.clock(), "21211")
    add_subscriber(city, "4185550108", zone="Côte-Blanche")  # another zone


def _sent_messages(city: Services) -> list[dict[str, str]]:
    path = Path(city.settings.gateway.file_path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_zone_alert_reaches_exactly_the_right_people_once_in_their_language(
    city: Services,
) -> None:
    _people(city)
    draft = prepare_alert(city, _request(zones=("saint eloi", "Lac-Doré")))
    assert draft.recipients == 3
    assert draft.by_zone == {"Lac-Doré": 1, "Saint-Éloi": 2}
    assert draft.by_lang == {"fr": 2, "en": 1}
    assert "Saint-Éloi et Lac-Doré" in draft.texts.fr.text
    queued = queue_alert(city, draft)
    assert (queued.state, queued.recipients) == ("queued", 3)
    report = run_worker(city, until_idle=True)
    assert (report.sent, report.failed, report.skipped) == (3, 0, 0)
    sent = _sent_messages(city)
    assert Counter(m["to"] for m in sent) == {
        "+14185550101": 1,
        "+14185550102": 1,
        "+14185550103": 1,
    }
    by_phone = {m["to"]: m["body"] for m in sent}
    assert by_phone["+14185550102"].startswith("Neighbourhood Alerts, Saint-Éloi and Lac-Doré:")
    assert by_phone["+14185550101"].startswith("Alertes de quartier, Saint-Éloi et Lac-Doré:")
    status = alert_status(city, queued.alert_id)
    assert status["state"] == "done"
    assert status["deliveries"]["sent"] == 3
    assert sum(status["deliveries"].values()) == status["recipients"] == 3


def test_info_reaches_every_active_subscriber_and_radar_only_its_topic(city: Services) -> None:
    _people(city)
    everyone = prepare_alert(city, _request("info", everyone=True))
    assert everyone.recipients == 5  # 101, 102, 103, 104 and 108
    assert everyone.by_zone == {"Côte-Blanche": 1, "Lac-Doré": 1, "Saint-Éloi": 3}
    radar = prepare_alert(city, _request("radar", zones=("Saint-Éloi",)))
    assert radar.recipients == 3  # 101, 103, 104 (radar on); 105-107 never
    snow = prepare_alert(city, _request("snow", zones=("Saint-Éloi",)))
    assert snow.recipients == 2  # 104 turned snow off


def _area_file(tmp_path: Path, lat: float, lon: float, half: float = 0.002) -> str:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return str(path)


def _shape_people(city: Services) -> None:
    add_subscriber(city, "4185550201", at=f"{ELOI[0]},{ELOI[1]}")  # inside the shape
    add_subscriber(city, "4185550202", at="47.0480,-71.3200")  # Saint-Éloi, well outside it
    add_subscriber(city, "4185550203", zone="Saint-Éloi")  # no point, zone touched: reached
    add_subscriber(city, "4185550204", zone="Lac-Doré")  # no point, zone untouched
    add_subscriber(city, "4185550205", at=f"{ELOI[0] + 0.0005},{ELOI[1]}", lang="en")
    _set_status(city, "+14185550205", "opted_out")  # inside, but opted out


def test_area_reaches_points_inside_and_pointless_subscribers_of_touched_zones(
    city: Services, tmp_path: Path
) -> None:
    _shape_people(city)
    assert city.zones.layer().locate(-71.3200, 47.0480)[0].name == "Saint-Éloi"
    request = _request("info", area=_area_file(tmp_path, *ELOI))
    draft = prepare_alert(city, request)
    assert (draft.recipients, draft.by_zone) == (2, {"Saint-Éloi": 2})
    queued = queue_alert(city, draft)
    with city.session(read_only=True) as session:
        reached = session.execute(
            select(Subscriber.phone)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.alert_id == queued.alert_id)
        ).scalars()
        assert sorted(reached) == ["+14185550201", "+14185550203"]


def test_near_reaches_a_circle_around_a_site(city: Services) -> None:
    _shape_people(city)
    request = _request("radar", near=f"{ELOI[0]},{ELOI[1]}", radius_m=300)
    draft = prepare_alert(city, request)
    assert draft.recipients == 2
    assert "within 300 m" in draft.target.describe()
    wide = prepare_alert(city, _request("radar", near=f"{ELOI[0]},{ELOI[1]}", radius_m=1500))
    assert wide.recipients == 3  # the far point of Saint-Éloi too


def test_bad_input_is_refused_before_anything_is_queued(city: Services, tmp_path: Path) -> None:
    _people(city)
    bad_json = tmp_path / "bad.geojson"
    bad_json.write_text("{not json")
    bow_tie = tmp_path / "bowtie.geojson"
    coords = [[-71.33, 47.05], [-71.32, 47.06], [-71.32, 47.05], [-71.33, 47.06], [-71.33, 47.05]]
    bow_tie.write_text(json.dumps({"type": "Polygon", "coordinates": [coords]}))
    line = tmp_path / "line.geojson"
    line.write_text(json.dumps({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))
    cases: list[tuple[AlertRequest, type[Exception]]] = [
        (_request(zones=("Atlantis",)), UnknownZone),
        (_request(area=str(bad_json)), BadArea),
        (_request(area=str(bow_tie)), BadArea),
        (_request(area=str(line)), BadArea),
        (_request(area=str(tmp_path / "missing.geojson")), BadArea),
        (_request(near="47.05", radius_m=100), InvalidInput),
        (_request(near=f"{ELOI[0]},{ELOI[1]}"), UsageError),
        (_request(zones=("Saint-Éloi",), everyone=True), UsageError),
        (AlertRequest("snow", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(template="snow")),
         MissingVariable),
        (AlertRequest("info", TargetSpec(everyone=True), MessageSpec(text="x" * 400)),
         AlertTextTooLong),
        (AlertRequest("hail", TargetSpec(everyone=True), MessageSpec(text="x")), UsageError),
        (AlertRequest("info", TargetSpec(everyone=True), MessageSpec(text="x"),
                      at="2026-03-08 02:30"), BadTime),
        (AlertRequest("info", TargetSpec(everyone=True), MessageSpec(text="x"),
                      at="2001-01-01 10:00"), InvalidInput),
    ]  # fmt: skip
    for request, error in cases:
        with pytest.raises(error):
            send_alert(city, request)
    with city.session(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Alert)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0


def test_scheduled_alert_waits_then_reaches_the_subscribers_of_its_time(city: Services) -> None:
    _people(city)
    later = (city.clock() + timedelta(hours=2)).astimezone(city.settings.service.tz)
    request = AlertRequest(
        "snow",
        TargetSpec(zones=("Saint-Éloi",)),
        MessageSpec(template="snow", variables=SNOW_VARS),
        at=later.strftime("%Y-%m-%d %H:%M"),
    )
    queued = send_alert(city, request)
    assert queued.state == "scheduled" and queued.scheduled_for is not None
    assert abs((queued.scheduled_for - later).total_seconds()) < 60
    assert due_alerts(city) == []
    with city.session(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0
    add_subscriber(city, "4185550109", zone="Saint-Éloi")  # subscribes before the due time
    real_clock = city.clock
    city.clock = lambda: real_clock() + timedelta(hours=3)
    assert due_alerts(city) == [queued.alert_id]
    assert release_scheduled_alert(city, queued.alert_id) == 3
    assert release_scheduled_alert(city, queued.alert_id) == 0  # a second call does nothing
    assert due_alerts(city) == []
    status = alert_status(city, queued.alert_id)
    assert (status["state"], status["deliveries"]["queued"]) == ("queued", 3)


def test_cancel_stops_the_rest_and_notify_corrects_those_reached(city: Services) -> None:
    for n in range(5):
        add_subscriber(city, f"41855503{n:02d}", zone="Saint-Éloi", lang="en" if n == 0 else "fr")
    queued = send_alert(city, _request("info", zones=("Saint-Éloi",)))
    with city.session() as session:
        first_two = (
            select(Delivery.id)
            .where(Delivery.alert_id == queued.alert_id)
            .order_by(Delivery.id)
            .limit(2)
        )
        ids = list(session.execute(first_two).scalars())
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(state="sent"))
    result = cancel_alert(city, queued.alert_id, notify="Annulé / Cancelled: ignore the notice.")
    assert (result.state, result.cancelled) == ("cancelled", 3)
    assert result.correction_recipients == 2
    assert result.correction_id is not None
    status = alert_status(city, queued.alert_id)
    assert status["deliveries"]["cancelled"] == 3 and status["deliveries"]["sent"] == 2
    correction = alert_status(city, result.correction_id)
    assert correction["correction_of"] == queued.alert_id
    assert correction["urgent"] is True
    run_worker(city, until_idle=True)
    sent = [m for m in _sent_messages(city) if m["body"].startswith("Annulé")]
    assert len(sent) == 2
    scheduled = send_alert(
        city, AlertRequest("info", TargetSpec(everyone=True), MessageSpec(text="Plus tard"),
                           at=(city.clock() + timedelta(days=1)).isoformat())
    )  # fmt: skip
    assert cancel_alert(city, scheduled.alert_id).state == "cancelled"
    assert release_scheduled_alert(city, scheduled.alert_id) == 0


def test_urgent_alerts_go_first(city: Services) -> None:
    for n in range(6):
        add_subscriber(city, f"41855504{n:02d}", zone="Saint-Éloi")
    normal = send_alert(city, _request("info", zones=("Saint-Éloi",)))
    urgent_request = AlertRequest(
        "info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="URGENT"), urgent=True
    )
    urgent = send_alert(city, urgent_request)
    assert normal.alert_id < urgent.alert_id
    tuned = build(city.settings.with_overrides(**{"dispatch.max_in_flight": 1}))
    run_worker(tuned, until_idle=True)
    tuned.close()
    bodies = [m["body"] for m in _sent_messages(city)]
    assert bodies[:6] == ["URGENT"] * 6
    assert len(bodies) == 12


def test_history_lists_newest_first_with_counts(city: Services) -> None:
    add_subscriber(city, "4185550501", zone="Saint-Éloi")
    first = send_alert(city, _request("info", zones=("Saint-Éloi",)))
    run_worker(city, until_idle=True)
    second = send_alert(city, _request("info", zones=("Lac-Doré",)))  # nobody there
    rows = alert_history(city)
    assert [row["alert_id"] for row in rows] == [second.alert_id, first.alert_id]
    assert rows[0]["state"] == "done" and rows[0]["recipients"] == 0
    assert rows[1]["sent"] == 1


def test_one_subscription_pending_does_not_count(city: Services) -> None:
    add_subscriber(city, "4185550601", zone="Lac-Doré")
    with city.session() as session:
        subscriber_id = session.execute(
            select(Subscriber.id).where(Subscriber.phone == "+14185550601")
        ).scalar_one()
        zone_id = _zone_id(session, "Saint-Éloi")
        session.add(Subscription(subscriber_id=subscriber_id, zone_id=zone_id, status="pending"))
    assert prepare_alert(city, _request("info", zones=("Saint-Éloi",))).recipients == 0


def _zone_id(session: Session, name: str) -> int:
    from alerts.storage.models import ZoneRecord

    return session.execute(select(ZoneRecord.id).where(ZoneRecord.name == name)).scalar_one()
