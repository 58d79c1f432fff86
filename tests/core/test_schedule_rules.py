"""The clock's pure rules, and wall-clock times across the DST changes of 2026 and 2027."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from alerts.clock.recurring import latest_fire_time
from alerts.core.local_time import BadTime, parse_local_time
from alerts.core.schedule_rules import (
    BadSchedule,
    after_quiet_hours,
    parse_duration,
    parse_recurrence,
    parse_window,
)

TZ = ZoneInfo("America/Toronto")
# Spring forward (02:00 -> 03:00) and fall back (02:00 -> 01:00) in 2026 and 2027.
SPRING = ["2026-03-08", "2027-03-14"]
FALL = ["2026-11-01", "2027-11-07"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", 7200),
        ("30m", 1800),
        ("1h30m", 5400),
        ("90s", 90),
        ("1d", 86400),
        ("0", 0),
        ("45min", 2700),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["2 hours", "h", "-1h", "1h 2x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadSchedule):
        parse_duration(text)


@pytest.mark.parametrize("day", SPRING)
def test_a_time_that_does_not_exist_is_refused(day: str) -> None:
    with pytest.raises(BadTime, match="does not exist") as caught:
        parse_local_time(f"{day} 02:30", TZ)
    assert "offset" in str(caught.value)


@pytest.mark.parametrize("day", FALL)
def test_a_time_that_exists_twice_is_refused_naming_both(day: str) -> None:
    with pytest.raises(BadTime, match="happens twice") as caught:
        parse_local_time(f"{day} 01:30", TZ)
    assert f"{day}T01:30-04:00" in str(caught.value) and f"{day}T01:30-05:00" in str(caught.value)
    assert parse_local_time(f"{day}T01:30-05:00", TZ) == parse_local_time(
        f"{day}T01:30-04:00", TZ
    ) + timedelta(hours=1)


@pytest.mark.parametrize("day", SPRING + FALL)
def test_a_daily_19h_fires_at_19h_local_on_both_sides_of_each_change(day: str) -> None:
    trigger = CronTrigger(**parse_recurrence("daily 19:00").cron_fields(), timezone=TZ)
    change = datetime.fromisoformat(day).replace(tzinfo=TZ)
    moment = trigger.get_next_fire_time(None, change - timedelta(days=2))
    fires = []
    for _ in range(5):
        assert moment is not None
        fires.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    local = [f.astimezone(TZ) for f in fires]
    assert all((m.hour, m.minute) == (19, 0) for m in local)
    offsets = {m.utcoffset() for m in local}
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}  # the offset changes...
    in_utc = [f.astimezone(UTC) for f in fires]  # same-zone datetimes subtract as wall clocks
    gaps = {b - a for a, b in itertools.pairwise(in_utc)}
    assert gaps == {timedelta(hours=24), timedelta(hours=23)} or gaps == {
        timedelta(hours=24),
        timedelta(hours=25),
    }  # ...so one day is 23 or 25 hours long


@pytest.mark.parametrize("day", SPRING + FALL)
def test_the_latest_occurrence_is_found_across_a_change(day: str) -> None:
    after = datetime.fromisoformat(f"{day}T19:00").replace(tzinfo=TZ) + timedelta(minutes=5)
    latest = latest_fire_time("daily 19:00", TZ, after.astimezone(UTC))
    assert latest.astimezone(TZ).replace(tzinfo=None) == datetime.fromisoformat(f"{day}T19:00")


def test_recurrences() -> None:
    assert parse_recurrence("mon,wed,fri 07:30").cron_fields() == {
        "day_of_week": "mon,wed,fri", "hour": 7, "minute": 30,
    }  # fmt: skip
    assert parse_recurrence("weekdays 06:00").days == ("mon", "tue", "wed", "thu", "fri")
    assert parse_recurrence("lun,jeu 19:00").days == ("mon", "thu")
    assert parse_recurrence("daily 19:00").describe() == "daily 19:00"
    for bad in ("sometimes 19:00", "daily 25:00", "19:00", "mon,xyz 07:00"):
        with pytest.raises(BadSchedule):
            parse_recurrence(bad)


def test_quiet_hours_across_midnight_and_dst() -> None:
    window = parse_window("22:00-07:00")
    assert window.contains(time(23, 0)) and window.contains(time(6, 59))
    assert not window.contains(time(7, 0)) and not window.contains(time(21, 59))
    late = datetime(2026, 12, 3, 23, 30, tzinfo=TZ).astimezone(UTC)
    assert after_quiet_hours(late, window, TZ) == datetime(2026, 12, 4, 7, 0, tzinfo=TZ)
    early = datetime(2026, 12, 4, 5, 0, tzinfo=TZ).astimezone(UTC)
    assert after_quiet_hours(early, window, TZ) == datetime(2026, 12, 4, 7, 0, tzinfo=TZ)
    day = datetime(2026, 12, 4, 12, 0, tzinfo=TZ).astimezone(UTC)
    assert after_quiet_hours(day, window, TZ) == day
    # The night clocks spring forward: the window still ends at 07:00 local (EDT).
    spring = datetime(2026, 3, 8, 1, 0, tzinfo=TZ).astimezone(UTC)
    end = after_quiet_hours(spring, window, TZ).astimezone(TZ)
    assert (end.hour, end.utcoffset()) == (7, timedelta(hours=-4))
    for bad in ("22-07", "25:00-07:00", "night"):
        with pytest.raises(BadSchedule):
            parse_window(bad)
