"""Wall-clock times typed by operators, in the service's time zone, checked against DST gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.errors import InvalidInput


class BadTime(InvalidInput):
    """A time that cannot be read, or names no single instant in the service's time zone."""


class TimeOutOfRange(BadTime):
    """A time outside the years the service plans in: a usage error, like any option value
    out of its range (and "9999-12-31 23:59" would overflow once converted to UTC)."""

    exit_code = 2


# The years a time may name. Beyond them a conversion between zones, or a notice's grace
# and quiet hours added to the time, would leave what datetime holds (years 1 to 9999).
FIRST_YEAR = 1970
LAST_YEAR = 2999


def parse_local_time(text: str, tz: ZoneInfo) -> datetime:
    """An aware UTC datetime from "2026-12-03 19:00" (local) or one with an explicit offset.

    A local time skipped by the spring DST change, or repeated by the autumn one, is refused
    unless the text carries its UTC offset ("2026-11-01T01:30-05:00").
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise BadTime(
            f"cannot read the time {text!r} (example: 2026-12-03 19:00, or with an offset "
            "2026-12-03T19:00-05:00)"
        ) from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise TimeOutOfRange(
            f"the time {text.strip()!r} is out of range (years {FIRST_YEAR} to {LAST_YEAR})"
        )
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    earlier = parsed.replace(tzinfo=tz, fold=0)
    later = parsed.replace(tzinfo=tz, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        round_trip = earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != parsed:
            # Read with the offset before the change it is an hour after the jump; with the
            # offset after it, an hour before: the two instants an operator may have meant.
            after = earlier.astimezone(UTC).astimezone(tz)
            before = later.astimezone(UTC).astimezone(tz)
            raise BadTime(
                f"{text.strip()} does not exist in {tz.key} (clocks skip that hour); give "
                f"{after.replace(tzinfo=None).isoformat(timespec='minutes')}{_offset(after)} "
                f"(after the change) or "
                f"{before.replace(tzinfo=None).isoformat(timespec='minutes')}{_offset(before)} "
                "(before it), with that explicit UTC offset"
            )
        stamp = parsed.isoformat(timespec="minutes")
        raise BadTime(
            f"{text.strip()} happens twice in {tz.key} (clocks fall back); give "
            f"{stamp}{_offset(earlier)} (the first) or {stamp}{_offset(later)} (the second)"
        )
    return earlier.astimezone(UTC)


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """ISO 8601 in the service's time zone with its offset (2026-12-03T19:00:00-05:00)."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
