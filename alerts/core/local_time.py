"""Wall-clock times: read from operators in the service's time zone (checked against DST
gaps), and written for people in French or English (texts to residents, the CLI's tables)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.errors import InvalidOption


class BadTime(InvalidOption):
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


WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
# "aout" is the 1990 rectified spelling, accepted in Québec; "août" would make the whole
# message UCS-2 every August.
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "aout",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
# The short forms of the Office québécois de la langue française (and of CLDR), for the
# terminal: a screen has no GSM-7 alphabet to keep to, so "août" keeps its accent.
_SHORT_WEEKDAYS = {
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_SHORT_MONTHS = {
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
           "oct.", "nov.", "déc."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec"),
}  # fmt: skip


def spoken_time(at: time, lang: str) -> str:
    """A time of day as written in `lang`: "19 h", "19 h 30", "midi"; "7 p.m.", "7:30 p.m."."""
    if lang == "fr":
        if at.minute == 0 and at.hour in (0, 12):
            return "minuit" if at.hour == 0 else "midi"
        return f"{at.hour} h" + (f" {at.minute:02d}" if at.minute else "")
    if at.minute == 0 and at.hour in (0, 12):
        return "midnight" if at.hour == 0 else "noon"
    hour = at.hour % 12 or 12
    suffix = "a.m." if at.hour < 12 else "p.m."
    return f"{hour}:{at.minute:02d} {suffix}" if at.minute else f"{hour} {suffix}"


def spoken_date(day: date, lang: str) -> str:
    """A day in full: "jeudi 3 décembre", "mardi 1er décembre"; "Thursday, December 3"."""
    weekday = WEEKDAYS[lang][day.weekday()]
    month = MONTHS[lang][day.month - 1]
    if lang == "fr":
        return f"{weekday} {_day_number(day)} {month}"
    return f"{weekday}, {month} {day.day}"


def human_day(moment: datetime, tz: ZoneInfo, lang: str, *, now: datetime | None = None) -> str:
    """The local day of `moment`, short: "jeu. 3 déc." / "Thu Dec 3".

    The year is added ("jeu. 3 déc. 2025" / "Thu Dec 3, 2025") when it is not `now`'s; the
    core has no clock, so without `now` it is left out.
    """
    local = moment.astimezone(tz)
    weekday = _SHORT_WEEKDAYS[lang][local.weekday()]
    month = _SHORT_MONTHS[lang][local.month - 1]
    year = f" {local.year}" if _other_year(local, tz, now) else ""
    if lang == "fr":
        return f"{weekday} {_day_number(local)} {month}{year}"
    return f"{weekday} {month} {local.day}" + (f",{year}" if year else "")


def human_clock(moment: datetime, tz: ZoneInfo, lang: str) -> str:
    """The local time of day of `moment`: "19 h 30" / "7:30 p.m." (for a moment of today).

    In the hour the autumn change repeats, the UTC offset follows ("1 h 30 (UTC-4)"), as
    that wall-clock time then names two instants.
    """
    local = moment.astimezone(tz)
    spoken = spoken_time(local.time(), lang)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        offset = local.utcoffset() or timedelta(0)
        hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
        sign = "-" if offset < timedelta(0) else "+"
        spoken += f" (UTC{sign}{hours}" + (f":{minutes:02d})" if minutes else ")")
    return spoken


def human_time(moment: datetime, tz: ZoneInfo, lang: str, *, now: datetime | None = None) -> str:
    """A moment as people read it, local: "jeu. 3 déc. 19 h" / "Thu Dec 3, 7 p.m.".

    Minutes when there are some ("19 h 30", "7:30 p.m."), "midi"/"noon" and "minuit"/
    "midnight"; the year when it is not `now`'s ("jeu. 3 déc. 2025, 19 h",
    "Thu Dec 3, 2025, 7 p.m."). Seconds are dropped: this is for reading, --json keeps ISO.
    """
    day = human_day(moment, tz, lang, now=now)
    clock = human_clock(moment, tz, lang)
    # A comma keeps the year's digits apart from the hour's ("2025, 19 h"); English has one
    # anyway ("Thu Dec 3, 7 p.m.").
    if lang == "fr" and not _other_year(moment.astimezone(tz), tz, now):
        return f"{day} {clock}"
    return f"{day}, {clock}"


def _other_year(local: datetime, tz: ZoneInfo, now: datetime | None) -> bool:
    return now is not None and now.astimezone(tz).year != local.year


def _day_number(day: date) -> str:
    return "1er" if day.day == 1 else str(day.day)


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
