"""Planned operations and their notices, on SQLite and PostgreSQL, with a hand-moved clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import mapping
from sqlmodel import select

from alerts.clock.notices import fire_notice, list_notices
from alerts.clock.operations import (
    OperationSpec,
    add_operation,
    cancel_operation,
    list_operations,
    move_operation,
)
from alerts.clock.plan_import import PlanError, import_plan
from alerts.config import Settings
from alerts.core.composition import MessageSpec
from alerts.core.local_time import BadTime
from alerts.errors import InvalidInput, UsageError
from alerts.outbox.dispatch import run_worker
from alerts.places.layers import import_addresses, import_zones
from alerts.sending.sending import AlertRequest, prepare_alert, send_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Alert, Delivery, Notice, Subscriber
from alerts.subscribers.subscribers import add_subscriber
from alerts.wiring import Services, build

TZ = ZoneInfo("America/Toronto")


class Clock:
    """A clock the test moves by hand (the service's clock; APScheduler is not involved)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, local: str) -> None:
        self.now = datetime.fromisoformat(local).replace(tzinfo=TZ).astimezone(UTC)


@pytest.fixture
def city(settings: Settings) -> Iterator[tuple[Services, Clock]]:
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER

    clock = Clock(datetime(2026, 12, 3, 12, 0, tzinfo=TZ).astimezone(UTC))
    services = build(settings.with_overrides(**{"dispatch.rate_per_second": 1000}), clock=clock)
    import_zones(services, str(DEMO_LAYER))
    import_addresses(services, DEMO_ADDRESSES)
    add_subscriber(services, "4185550101", zone="Lac-Doré", lang="fr")
    add_subscriber(services, "4185550102", zone="Lac-Doré", lang="en")
    add_subscriber(services, "4185550103", zone="Saint-Éloi", lang="fr", topics="radar")
    add_subscriber(services, "4185550104", zone="Côte-Blanche", lang="fr")
    yield services, clock
    services.close()


def snow(**extra: object) -> OperationSpec:
    values: dict[str, object] = {
        "kind": "snow", "zones": ("lac dore",), "start": "2026-12-03 19:00",
        "end": "2026-12-04 07:00",
    }  # fmt: skip
    values.update(extra)
    return OperationSpec(**values)  # type: ignore[arg-type]


def notices_of(services: Services, operation_id: int) -> list[Notice]:
    with services.session(read_only=True) as session:
        return list(
            session.exec(
                select(Notice).where(Notice.operation_id == operation_id).order_by(Notice.due_at)
            ).all()
        )


def deliveries(services: Services, alert_id: int) -> list[tuple[str, str]]:
    from alerts.storage.models import Subscriber

    with services.session(read_only=True) as session:
        rows = session.exec(
            select(Subscriber.phone, Delivery.lang)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.alert_id == alert_id)
            .order_by(Subscriber.phone)
        ).all()
    return [(phone, lang) for phone, lang in rows]


def test_an_operation_schedules_notice_reminder_and_all_clear(city: tuple[Services, Clock]) -> None:
    services, _ = city
    shown = add_operation(services, snow())
    assert shown["zones"] == ["Lac-Doré"] and shown["status"] == "planned"
    assert shown["start"] == "2026-12-03T19:00:00-05:00"
    assert shown["end"] == "2026-12-04T07:00:00-05:00"
    assert [(n["kind"], n["due"], n["status"]) for n in shown["notices"]] == [
        ("notice", "2026-12-03T17:00:00-05:00", "scheduled"),
        ("reminder", "2026-12-03T18:30:00-05:00", "scheduled"),
        ("all_clear", "2026-12-04T07:00:00-05:00", "scheduled"),
    ]
    assert list_operations(services)[0]["id"] == shown["id"]


def test_notices_fire_once_in_each_language(city: tuple[Services, Clock]) -> None:
    services, clock = city
    shown = add_operation(services, snow())
    notice, _reminder, all_clear = notices_of(services, shown["id"])
    clock.at("2026-12-03T17:00:02")
    fired = fire_notice(services, notice.id)  # type: ignore[arg-type]
    assert fired.status == "sent" and abs(fired.late_seconds - 2) < 0.01
    again = fire_notice(services, notice.id)  # type: ignore[arg-type]
    assert again.status == "sent" and again.alert_id == fired.alert_id
    assert fired.alert_id is not None
    assert deliveries(services, fired.alert_id) == [("+14185550101", "fr"), ("+14185550102", "en")]
    with services.session(read_only=True) as session:
        alert = session.get(Alert, fired.alert_id)
        assert alert is not None and "19 h" in alert.body_fr and "7 p.m." in alert.body_en
        assert len(session.exec(select(Alert)).all()) == 1
    clock.at("2026-12-04T07:00:00")
    end = fire_notice(services, all_clear.id)  # type: ignore[arg-type]
    with services.session(read_only=True) as session:
        ended = session.get(Alert, end.alert_id)
        assert ended is not None and "terminée" in ended.body_fr


def test_a_notice_later_than_its_grace_is_missed_not_sent(city: tuple[Services, Clock]) -> None:
    services, clock = city
    shown = add_operation(services, snow())
    notice = notices_of(services, shown["id"])[0]
    clock.at("2026-12-03T17:31:00")  # grace is 30 minutes
    assert fire_notice(services, notice.id).status == "missed"  # type: ignore[arg-type]
    with services.session(read_only=True) as session:
        assert session.exec(select(Alert)).all() == []
        missed = session.get(Notice, notice.id)
        assert missed is not None and "grace" in (missed.detail or "")
    assert next(n["status"] for n in list_notices(services)) == "missed"


def test_two_schedulers_firing_at_once_send_once(city: tuple[Services, Clock]) -> None:
    services, clock = city
    shown = add_operation(services, snow())
    notice = notices_of(services, shown["id"])[0]
    clock.at("2026-12-03T17:00:00")
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(fire_notice(services, notice.id)))  # type: ignore[arg-type]
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with services.session(read_only=True) as session:
        assert len(session.exec(select(Alert)).all()) == 1
    assert sum(r.status == "sent" and r.late_seconds == 0 for r in results) >= 1


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("2026-03-08 02:30", "does not exist"),
        ("2026-11-01 01:30", "happens twice"),
        ("2027-03-14 02:15", "does not exist"),
        ("2027-11-07 01:45", "happens twice"),
    ],
)
def test_dst_gaps_and_overlaps_are_refused(
    city: tuple[Services, Clock], start: str, message: str
) -> None:
    services, clock = city
    clock.at(start.replace(" ", "T")[:10] + "T00:00")
    with pytest.raises(BadTime, match=message):
        add_operation(services, snow(start=start, end=start[:10] + " 07:00"))
    assert list_operations(services) == []


def test_bad_operations_are_refused(city: tuple[Services, Clock]) -> None:
    services, _ = city
    with pytest.raises(InvalidInput, match="end after"):
        add_operation(services, snow(end="2026-12-03 18:00"))
    with pytest.raises(InvalidInput, match="already over"):
        add_operation(services, snow(start="2026-12-01 19:00", end="2026-12-02 07:00"))
    with pytest.raises(UsageError, match="snow or radar"):
        add_operation(services, snow(kind="hail"))
    assert list_operations(services) == []


def test_cancel_after_the_notice_sends_a_correction(city: tuple[Services, Clock]) -> None:
    services, clock = city
    shown = add_operation(services, snow())
    notice = notices_of(services, shown["id"])[0]
    clock.at("2026-12-03T17:00:00")
    sent = fire_notice(services, notice.id)  # type: ignore[arg-type]
    run_worker(services, until_idle=True)  # the notice reaches both residents
    clock.at("2026-12-03T17:10:00")
    cancelled = cancel_operation(services, shown["id"])
    assert cancelled["status"] == "cancelled"
    kinds = [(n["kind"], n["status"]) for n in cancelled["notices"]]
    assert ("reminder", "cancelled") in kinds and ("all_clear", "cancelled") in kinds
    correction = next(n for n in cancelled["notices"] if n["kind"] == "correction")
    with services.session(read_only=True) as session:
        fix = session.get(Alert, correction["alert_id"])
        assert fix is not None and fix.correction_of == sent.alert_id
        assert "annulée" in fix.body_fr and "cancelled" in fix.body_en
    assert [p for p, _ in deliveries(services, correction["alert_id"])] == [
        "+14185550101",
        "+14185550102",
    ]


def test_cancel_before_anyone_was_reached_needs_no_correction(
    city: tuple[Services, Clock],
) -> None:
    services, clock = city
    shown = add_operation(services, snow())
    clock.at("2026-12-03T17:00:00")
    sent = fire_notice(services, notices_of(services, shown["id"])[0].id)  # type: ignore[arg-type]
    cancelled = cancel_operation(services, shown["id"])
    correction = next(n for n in cancelled["notices"] if n["kind"] == "correction")
    assert deliveries(services, correction["alert_id"]) == []
    with services.session(read_only=True) as session:
        states = session.exec(select(Delivery.state).where(Delivery.alert_id == sent.alert_id))
        assert set(states.all()) == {"cancelled"}


def test_move_reschedules_and_corrects(city: tuple[Services, Clock]) -> None:
    services, clock = city
    shown = add_operation(services, snow())
    moved = move_operation(services, shown["id"], "2026-12-04 19:00", "2026-12-05 07:00")
    assert [(n["kind"], n["due"]) for n in moved["notices"] if n["status"] == "scheduled"] == [
        ("notice", "2026-12-04T17:00:00-05:00"),
        ("reminder", "2026-12-04T18:30:00-05:00"),
        ("all_clear", "2026-12-05T07:00:00-05:00"),
    ]
    assert not any(n["kind"] == "correction" for n in moved["notices"])  # nobody was told yet
    live = [n for n in moved["notices"] if n["status"] == "scheduled"]
    first = next(n for n in live if n["kind"] == "notice")
    clock.at("2026-12-04T17:00:00")
    fire_notice(services, first["id"])
    run_worker(services, until_idle=True)
    clock.at("2026-12-04T17:30:00")
    again = move_operation(services, shown["id"], "2026-12-05 19:00", "2026-12-06 07:00")
    correction = next(n for n in again["notices"] if n["kind"] == "correction")
    with services.session(read_only=True) as session:
        fix = session.get(Alert, correction["alert_id"])
        assert fix is not None and "reportée" in fix.body_fr and "samedi 5" in fix.body_fr
    pending = [n["kind"] for n in again["notices"] if n["status"] == "scheduled"]
    assert pending == ["reminder", "all_clear"]  # the correction gave the new time


def test_radar_operations_reach_zones_around_the_site(city: tuple[Services, Clock]) -> None:
    services, _ = city
    shown = add_operation(
        services,
        OperationSpec(
            kind="radar",
            location="47.0480,-71.3520",
            start="2026-12-04 08:00",
            end="2026-12-04 12:00",
        ),
    )
    assert "Haute-Ville—Colline-du-Fort" in shown["zones"] and len(shown["zones"]) >= 2
    assert [n["kind"] for n in shown["notices"]] == ["notice", "reminder"]  # no all-clear


def test_quiet_hours_delay_non_urgent_notices(settings: Settings) -> None:
    from alerts.demo.run import DEMO_LAYER

    clock = Clock(datetime(2026, 12, 3, 12, 0, tzinfo=TZ).astimezone(UTC))
    quiet = settings.with_overrides(**{"schedule.quiet_hours": "22:00-07:00"})
    services = build(quiet, clock=clock)
    import_zones(services, str(DEMO_LAYER))
    shown = add_operation(services, snow(start="2026-12-04 09:00", end="2026-12-04 15:00",
                                          notice_before="10h", reminder_before="0"))  # fmt: skip
    assert shown["notices"][0]["due"] == "2026-12-04T07:00:00-05:00"  # not 23:00: quiet hours
    urgent = add_operation(services, snow(start="2026-12-05 09:00", end="2026-12-05 15:00",
                                           notice_before="10h", urgent=True))  # fmt: skip
    assert urgent["notices"][0]["due"] == "2026-12-04T23:00:00-05:00"
    services.close()


def test_quiet_hours_delay_send_at_and_recurring_alerts(settings: Settings) -> None:
    from alerts.clock.recurring import add_recurrence, fire_recurrence
    from alerts.demo.run import DEMO_LAYER

    clock = Clock(datetime(2026, 12, 3, 12, 0, tzinfo=TZ).astimezone(UTC))
    quiet = settings.with_overrides(**{"schedule.quiet_hours": "22:00-07:00"})
    services = build(quiet, clock=clock)
    import_zones(services, str(DEMO_LAYER))
    add_subscriber(services, "4185550101", zone="Lac-Doré")
    text = MessageSpec(text="Avis")
    late = AlertRequest("info", TargetSpec(zones=("Lac-Doré",)), text, at="2026-12-03 23:00")
    draft = prepare_alert(services, late)  # the preview and --json show the real time
    assert draft.scheduled_for == datetime(2026, 12, 4, 7, 0, tzinfo=TZ)
    queued = send_alert(services, late)
    notice = next(n for n in list_notices(services) if n["alert_id"] == queued.alert_id)
    assert notice["due"] == "2026-12-04T07:00:00-05:00"
    assert queued.scheduled_for == draft.scheduled_for
    urgent = replace(late, urgent=True)
    assert prepare_alert(services, urgent).scheduled_for == datetime(2026, 12, 3, 23, 0, tzinfo=TZ)

    nightly = AlertRequest("info", TargetSpec(zones=("Lac-Doré",)), text)
    made = add_recurrence(services, nightly, "daily 23:30")
    clock.at("2026-12-03T23:30:00")
    fire_recurrence(services, made["id"])
    with services.session(read_only=True) as session:
        [waiting] = session.exec(select(Notice).where(Notice.recurrence_id == made["id"])).all()
    assert (waiting.status, waiting.alert_id) == ("scheduled", None)  # nothing sent at 23:30
    assert waiting.due_at == datetime(2026, 12, 4, 7, 0, tzinfo=TZ)
    fire_recurrence(services, made["id"])  # the same occurrence again: still one notice
    clock.at("2026-12-04T07:00:01")
    assert waiting.id is not None and fire_notice(services, waiting.id).status == "sent"
    services.close()


def test_send_at_goes_through_the_clock(city: tuple[Services, Clock]) -> None:
    services, clock = city
    request = AlertRequest(
        "info", TargetSpec(zones=("Lac-Doré",)), MessageSpec(text="Test"), at="2026-12-03 15:00"
    )
    queued = send_alert(services, request)
    assert queued.state == "scheduled"
    notice = next(n for n in list_notices(services) if n["alert_id"] == queued.alert_id)
    assert notice["due"] == "2026-12-03T15:00:00-05:00"
    clock.at("2026-12-03T15:00:01")
    assert fire_notice(services, notice["id"]).status == "sent"
    assert len(deliveries(services, queued.alert_id)) == 2


ICS_HEADER = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Ville//Plan//FR\r\n"


def _vevent(uid: str, start: str, end: str, category: str, location: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261126T120000Z\r\n"
        f"DTSTART;TZID=America/Toronto:{start}\r\nDTEND;TZID=America/Toronto:{end}\r\n"
        f"CATEGORIES:{category}\r\nSUMMARY:{category}\r\nLOCATION:{location}\r\nEND:VEVENT\r\n"
    )


def _plan(path: Path, events: list[str]) -> Path:
    path.write_text(ICS_HEADER + "".join(events) + "END:VCALENDAR\r\n", encoding="utf-8")
    return path


def _dozen() -> list[str]:
    zones = ["Lac-Doré", "Saint-Éloi", "Côte-Blanche", "Les Érables", "Lac-Doré\\; Saint-Éloi"]
    events = []
    for n in range(12):
        day = 4 + n // 3
        if n % 4 == 3:
            site = "47.0480\\,-71.3520"
            events.append(
                _vevent(f"radar-{n}@ville", f"202612{day:02d}T080000", f"202612{day:02d}T120000",
                        "radar", site)
            )  # fmt: skip
        else:
            events.append(_vevent(f"snow-{n}@ville", f"202612{day:02d}T190000",
                                  f"202612{day + 1:02d}T070000", "snow", zones[n % 5]))  # fmt: skip
    return events


def test_an_ics_plan_imports_reimports_as_a_no_op_and_reschedules_moves(
    city: tuple[Services, Clock], tmp_path: Path
) -> None:
    services, _ = city
    events = _dozen()
    first = import_plan(services, _plan(tmp_path / "week.ics", events))
    assert (first.added, first.unchanged, first.rescheduled) == (12, 0, 0)
    before = {n["id"]: (n["due"], n["status"]) for n in list_notices(services)}
    again = import_plan(services, tmp_path / "week.ics")
    assert (again.added, again.unchanged, again.rescheduled) == (0, 12, 0)
    assert {n["id"]: (n["due"], n["status"]) for n in list_notices(services)} == before
    events[0] = _vevent("snow-0@ville", "20261204T210000", "20261205T080000", "snow", "Lac-Doré")
    moved = import_plan(services, _plan(tmp_path / "week.ics", events))
    assert (moved.added, moved.unchanged, moved.rescheduled) == (0, 11, 1)
    by_uid = {op["external_id"]: op for op in list_operations(services)}
    operation = by_uid["ics:snow-0@ville"]
    live = [(n["kind"], n["due"]) for n in operation["notices"] if n["status"] == "scheduled"]
    assert live[0] == ("notice", "2026-12-04T19:00:00-05:00")
    assert by_uid["ics:snow-4@ville"]["zones"] == ["Lac-Doré", "Saint-Éloi"]


def test_a_plan_reimported_later_in_the_week_leaves_past_and_cancelled_operations_alone(
    city: tuple[Services, Clock], tmp_path: Path
) -> None:
    services, clock = city
    plan = _plan(tmp_path / "week.ics", _dozen())
    assert import_plan(services, plan).added == 12
    by_uid = {op["external_id"]: op for op in list_operations(services)}
    cancel_operation(services, by_uid["ics:snow-5@ville"]["id"])  # an operator called it off
    clock.at("2026-12-05T08:00:00")  # the three operations of the 4th are over
    again = import_plan(services, plan)
    assert (again.added, again.unchanged, again.rescheduled, again.past) == (0, 12, 0, 0)
    after = {op["external_id"]: op for op in list_operations(services)}
    assert after["ics:snow-5@ville"]["status"] == "cancelled"
    assert all(n["status"] != "scheduled" for n in after["ics:snow-5@ville"]["notices"])
    # A new file holding a finished event and a coming one: the finished one is skipped.
    late = [
        _vevent("late-past@ville", "20261204T190000", "20261205T070000", "snow", "Lac-Doré"),
        _vevent("late-next@ville", "20261207T190000", "20261208T070000", "snow", "Lac-Doré"),
    ]
    report = import_plan(services, _plan(tmp_path / "late.ics", late))
    assert (report.added, report.past) == (1, 1)
    assert "ics:late-past@ville" not in {op["external_id"] for op in list_operations(services)}


def test_an_event_twice_in_one_file_is_refused(
    city: tuple[Services, Clock], tmp_path: Path
) -> None:
    services, _ = city
    twice = [_vevent("same@ville", "20261206T190000", "20261207T070000", "snow", "Lac-Doré")] * 2
    with pytest.raises(PlanError, match="appears twice"):
        import_plan(services, _plan(tmp_path / "twice.ics", twice))
    assert list_operations(services) == []


def test_a_bad_event_stops_the_import_and_changes_nothing(
    city: tuple[Services, Clock], tmp_path: Path
) -> None:
    services, _ = city
    events = _dozen()
    events.append(_vevent("bad@ville", "20261206T190000", "20261207T070000", "snow", "Atlantis"))
    with pytest.raises(PlanError, match="bad@ville"):
        import_plan(services, _plan(tmp_path / "week.ics", events))
    assert list_operations(services) == []
    (tmp_path / "broken.ics").write_text("not a calendar")
    with pytest.raises(PlanError):
        import_plan(services, tmp_path / "broken.ics")


def test_a_csv_plan(city: tuple[Services, Clock], tmp_path: Path) -> None:
    services, _ = city
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "kind,start,end,zones,location\n"
        "snow,2026-12-04 19:00,2026-12-05 07:00,Lac-Doré;Saint-Éloi,\n"
        'radar,2026-12-05 08:00,2026-12-05 12:00,,"47.0480,-71.3520"\n',
        encoding="utf-8",
    )
    assert import_plan(services, plan).added == 2
    assert import_plan(services, plan).unchanged == 2
    assert [op["kind"] for op in list_operations(services)] == ["snow", "radar"]


def test_a_recurring_alert_fires_once_per_occurrence(city: tuple[Services, Clock]) -> None:
    from alerts.clock.recurring import (
        add_recurrence,
        cancel_recurrence,
        fire_recurrence,
        list_recurrences,
    )

    services, clock = city
    request = AlertRequest(
        "radar", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text="Radar ce soir / tonight")
    )
    made = add_recurrence(services, request, "Daily 19:00")
    assert made["schedule"] == "daily 19:00"
    assert f"recurrence-{made['id']}" in services.timer.job_ids()
    clock.at("2026-12-03T19:00:01")
    fire_recurrence(services, made["id"])
    fire_recurrence(services, made["id"])  # the same occurrence again: nothing more
    with services.session(read_only=True) as session:
        fired = session.exec(select(Notice).where(Notice.recurrence_id == made["id"])).all()
        assert [(n.status, n.due_at) for n in fired] == [
            ("sent", datetime(2026, 12, 3, 19, 0, tzinfo=TZ).astimezone(UTC))
        ]
        assert len(session.exec(select(Alert)).all()) == 1
    cancel_recurrence(services, made["id"])
    assert list_recurrences(services)[0]["status"] == "cancelled"
    assert f"recurrence-{made['id']}" not in services.timer.job_ids()


@pytest.mark.parametrize("day", ["2026-11-01", "2026-11-02", "2027-03-14", "2027-03-15"])
def test_a_daily_recurrence_fires_at_its_local_time_across_dst(
    city: tuple[Services, Clock], day: str
) -> None:
    from alerts.clock.recurring import add_recurrence, fire_recurrence

    services, clock = city
    request = AlertRequest("info", TargetSpec(zones=("Lac-Doré",)), MessageSpec(text="Avis"))
    made = add_recurrence(services, request, "daily 19:00")
    clock.at(f"{day}T19:00:02")  # the scheduler runs the job just after its time
    fire_recurrence(services, made["id"])
    with services.session(read_only=True) as session:
        [notice] = session.exec(select(Notice).where(Notice.recurrence_id == made["id"])).all()
    assert notice.due_at.astimezone(TZ).replace(tzinfo=None) == datetime.fromisoformat(
        f"{day}T19:00"
    )
    assert notice.status == "sent"


def test_a_recurring_area_alert_keeps_its_area_when_the_file_is_gone(
    city: tuple[Services, Clock], tmp_path: Path
) -> None:
    from alerts.clock.recurring import add_recurrence, fire_recurrence

    services, clock = city
    eloi = next(z for z in services.zones.layer().zones if z.name == "Saint-Éloi")
    drawn = eloi.geometry.representative_point().buffer(0.002)
    area = tmp_path / "radar-round.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(drawn)}))
    request = AlertRequest("radar", TargetSpec(area=str(area)), MessageSpec(text="Radar ce soir"))
    made = add_recurrence(services, request, "daily 19:00")
    area.unlink()  # the operator's drawing is gone by the first occurrence
    clock.at("2026-12-03T19:00:01")
    fire_recurrence(services, made["id"])
    with services.session(read_only=True) as session:
        [notice] = session.exec(select(Notice).where(Notice.recurrence_id == made["id"])).all()
        assert notice.status == "sent", notice.detail
        phones = session.exec(
            select(Subscriber.phone).join(Delivery).where(Delivery.alert_id == notice.alert_id)
        ).all()
    assert phones == ["+14185550103"]  # Saint-Éloi's radar subscriber; no one elsewhere
