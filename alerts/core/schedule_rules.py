"""Pure rules of the clock: durations ("2h"), quiet-hour windows, and recurring schedules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.errors import InvalidOption

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {
    **{day: day for day in _DAYS},
    "lun": "mon", "mar": "tue", "mer": "wed", "jeu": "thu", "ven": "fri", "sam": "sat",
    "dim": "sun",
}  # fmt: skip
_GROUPS = {
    "daily": _DAYS, "everyday": _DAYS, "quotidien": _DAYS,
    "weekdays": _DAYS[:5], "semaine": _DAYS[:5], "weekends": _DAYS[5:],
}  # fmt: skip


class BadSchedule(InvalidOption):
    """A duration, window or recurring schedule that cannot be read."""


def parse_duration(text: str) -> timedelta:
    """A duration from "2h", "30m", "1h30m", "90s", "1d" or "0"."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned in ("0", ""):
        return timedelta(0)
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != cleaned:
        raise BadSchedule(f"cannot read the duration {text!r} (examples: 2h, 30m, 1h30m)")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


@dataclass(frozen=True)
class Window:
    """A daily wall-clock window such as 22:00-07:00 (it may cross midnight)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether a wall-clock time falls inside the window."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def parse_window(text: str) -> Window:
    """A window from "22:00-07:00"."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise BadSchedule(f"cannot read the window {text!r} (example: 22:00-07:00)")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise BadSchedule(f"the window {text!r} has an impossible time")
    return Window(time(h1, m1), time(h2, m2))


def after_quiet_hours(moment: datetime, window: Window, tz: ZoneInfo) -> datetime:
    """`moment` itself, or the end of the quiet window it falls in (aware UTC)."""
    local = moment.astimezone(tz)
    if not window.contains(local.time().replace(tzinfo=None)):
        return moment
    day = local.date() if local.time() < window.end else local.date() + timedelta(days=1)
    # A wall-clock end that falls in a DST gap is moved on by the gap, as clocks do.
    end = datetime.combine(day, window.end).replace(tzinfo=tz)
    return end.astimezone(UTC)


def release_time(due_at: datetime, quiet_hours: str, tz: ZoneInfo, *, urgent: bool) -> datetime:
    """When a notice due at `due_at` may go out: after the quiet window ("22:00-07:00") it
    falls in, unless it is urgent or no window is set."""
    if urgent or not quiet_hours:
        return due_at
    return after_quiet_hours(due_at, parse_window(quiet_hours), tz)


@dataclass(frozen=True)
class RecurrenceRule:
    """A weekly wall-clock schedule: which days, at what time."""

    days: tuple[str, ...]
    at: time

    def cron_fields(self) -> dict[str, str | int]:
        """The fields of an APScheduler CronTrigger for this schedule."""
        return {"day_of_week": ",".join(self.days), "hour": self.at.hour, "minute": self.at.minute}

    def describe(self) -> str:
        """The schedule in its canonical text form."""
        days = "daily" if self.days == _DAYS else ",".join(self.days)
        return f"{days} {self.at.strftime('%H:%M')}"


def parse_recurrence(text: str) -> RecurrenceRule:
    """A schedule from "daily 19:00", "weekdays 07:30" or "mon,wed,fri 07:30"."""
    match = re.fullmatch(r"\s*([a-zA-Z, ]+?)\s+(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise BadSchedule(f"cannot read the schedule {text!r} (example: daily 19:00)")
    words, hour, minute = match.group(1).lower(), int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise BadSchedule(f"the schedule {text!r} has an impossible time")
    if words.strip() in _GROUPS:
        days = _GROUPS[words.strip()]
    else:
        picked = [_DAY_WORDS.get(word.strip()[:3]) for word in words.split(",") if word.strip()]
        if not picked or None in picked:
            raise BadSchedule(f"unknown day in {text!r} (days: mon, tue, ... or daily, weekdays)")
        days = tuple(day for day in _DAYS if day in picked)
    return RecurrenceRule(days, time(hour, minute))
