"""Operators' wall-clock times: the service's time zone, and the two DST days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from alerts.core.local_time import (
    BadTime,
    format_local,
    human_clock,
    human_day,
    human_time,
    parse_local_time,
    spoken_date,
    spoken_time,
)

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


# human_time: what the CLI's tables show. 2026-12-04 00:00 UTC is Thursday 3 December, 19:00
# in Québec (UTC-5 in winter).
THURSDAY_EVENING = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
THIS_YEAR = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_human_times_are_local_and_in_either_language() -> None:
    assert human_time(THURSDAY_EVENING, TORONTO, "fr") == "jeu. 3 déc. 19 h"
    assert human_time(THURSDAY_EVENING, TORONTO, "en") == "Thu Dec 3, 7 p.m."


def test_human_times_give_minutes_and_drop_seconds() -> None:
    moment = datetime(2026, 12, 4, 0, 30, 59, tzinfo=UTC)
    assert human_time(moment, TORONTO, "fr") == "jeu. 3 déc. 19 h 30"
    assert human_time(moment, TORONTO, "en") == "Thu Dec 3, 7:30 p.m."
    early = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)
    assert human_time(early, TORONTO, "fr") == "jeu. 3 déc. 9 h 05"
    assert human_time(early, TORONTO, "en") == "Thu Dec 3, 9:05 a.m."


def test_midnight_and_noon_are_words_and_the_first_is_1er() -> None:
    midnight = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    noon = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert human_time(midnight, TORONTO, "fr") == "mar. 1er déc. minuit"
    assert human_time(midnight, TORONTO, "en") == "Tue Dec 1, midnight"
    assert human_time(noon, TORONTO, "fr") == "mar. 1er déc. midi"
    assert human_time(noon, TORONTO, "en") == "Tue Dec 1, noon"
    # One minute past midnight is a time, not "minuit".
    assert human_clock(datetime(2026, 12, 1, 5, 1, tzinfo=UTC), TORONTO, "en") == "12:01 a.m."
    assert human_clock(datetime(2026, 12, 1, 17, 1, tzinfo=UTC), TORONTO, "fr") == "12 h 01"


def test_the_local_day_is_the_one_shown_not_the_utc_day() -> None:
    # 03:30 UTC on the 4th is still the evening of the 3rd in Québec.
    late = datetime(2026, 12, 4, 3, 30, tzinfo=UTC)
    assert human_day(late, TORONTO, "fr") == "jeu. 3 déc."
    assert human_day(late, TORONTO, "en") == "Thu Dec 3"


def test_the_year_is_written_only_when_it_is_not_the_current_one() -> None:
    assert human_time(THURSDAY_EVENING, TORONTO, "fr", now=THIS_YEAR) == "jeu. 3 déc. 19 h"
    assert human_time(THURSDAY_EVENING, TORONTO, "en", now=THIS_YEAR) == "Thu Dec 3, 7 p.m."
    last_year = datetime(2025, 12, 3, 12, tzinfo=UTC)
    assert human_time(THURSDAY_EVENING, TORONTO, "fr", now=last_year) == "jeu. 3 déc. 2026, 19 h"
    assert human_time(THURSDAY_EVENING, TORONTO, "en", now=last_year) == "Thu Dec 3, 2026, 7 p.m."
    # New Year's Eve in Québec is already 2027 in UTC: the years compared are local ones.
    new_years_eve = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)
    assert human_day(new_years_eve, TORONTO, "en", now=THIS_YEAR) == "Thu Dec 31"


def test_the_spring_change_skips_an_hour_in_the_times_shown() -> None:
    # 2026-03-08: 01:59 EST is followed by 03:00 EDT.
    before = datetime(2026, 3, 8, 6, 59, tzinfo=UTC)
    after = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert human_time(before, TORONTO, "fr") == "dim. 8 mars 1 h 59"
    assert human_time(after, TORONTO, "fr") == "dim. 8 mars 3 h"
    assert human_time(after, TORONTO, "en") == "Sun Mar 8, 3 a.m."


def test_the_autumn_hour_shown_twice_carries_its_offset() -> None:
    # 2026-11-01: 01:30 happens at 05:30 UTC (EDT, UTC-4) and again at 06:30 UTC (EST, UTC-5).
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert human_time(first, TORONTO, "fr") == "dim. 1er nov. 1 h 30 (UTC-4)"
    assert human_time(second, TORONTO, "fr") == "dim. 1er nov. 1 h 30 (UTC-5)"
    assert human_time(second, TORONTO, "en") == "Sun Nov 1, 1:30 a.m. (UTC-5)"
    # Outside the repeated hour, no offset.
    assert human_time(datetime(2026, 11, 1, 7, 0, tzinfo=UTC), TORONTO, "en") == (
        "Sun Nov 1, 2 a.m."
    )


def test_august_keeps_its_accent_on_screen_but_not_in_texts() -> None:
    moment = datetime(2026, 8, 14, 23, 0, tzinfo=UTC)
    assert human_day(moment, TORONTO, "fr") == "ven. 14 août"
    # Texts to residents keep "aout": "û" would turn the whole SMS into UCS-2.
    assert spoken_date(date(2026, 8, 14), "fr") == "vendredi 14 aout"


def test_spoken_times_are_those_of_the_alert_texts() -> None:
    assert spoken_time(time(19, 30), "fr") == "19 h 30"
    assert spoken_time(time(19, 30), "en") == "7:30 p.m."
    assert spoken_date(date(2026, 12, 1), "fr") == "mardi 1er décembre"
    assert spoken_date(date(2026, 12, 3), "en") == "Thursday, December 3"
