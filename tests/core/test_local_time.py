"""Operators' wall-clock times: the service's time zone, and the two DST days."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.core.local_time import BadTime, format_local, parse_local_time

TORONTO = ZoneInfo("America/Toronto")


def test_local_times_are_read_in_the_service_zone() -> None:
    assert parse_local_time("2026-12-03 19:00", TORONTO) == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert parse_local_time("2026-07-03T19:00", TORONTO) == datetime(2026, 7, 3, 23, tzinfo=UTC)


def test_explicit_offsets_and_utc_are_honoured() -> None:
    assert parse_local_time("2026-12-03T19:00Z", TORONTO) == datetime(2026, 12, 3, 19, tzinfo=UTC)
    moment = parse_local_time("2026-11-01T01:30-05:00", TORONTO)
    assert moment == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_the_skipped_spring_hour_is_refused() -> None:
    with pytest.raises(BadTime, match="does not exist") as caught:
        parse_local_time("2026-03-08 02:30", TORONTO)
    # The two instants meant, each with its offset: both are accepted as given.
    assert "2026-03-08T03:30-04:00 (after the change)" in str(caught.value)
    assert "2026-03-08T01:30-05:00 (before it)" in str(caught.value)
    assert parse_local_time("2026-03-08T03:30-04:00", TORONTO) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )


def test_the_doubled_autumn_hour_is_refused_with_both_offsets() -> None:
    with pytest.raises(BadTime, match=r"twice.*-04:00.*-05:00"):
        parse_local_time("2026-11-01 01:30", TORONTO)


def test_unreadable_times_say_what_to_type() -> None:
    with pytest.raises(BadTime, match="example: 2026-12-03 19:00"):
        parse_local_time("demain 19h", TORONTO)


def test_times_are_shown_with_their_offset() -> None:
    shown = format_local(datetime(2026, 12, 4, 0, 0, tzinfo=UTC), TORONTO)
    assert shown == "2026-12-03T19:00:00-05:00"
