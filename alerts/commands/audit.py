"""`alerts audit`: who did what and when, every operator action newest first."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from alerts.commands.context import JSON_OPTION, CliState, console, print_json, services, state
from alerts.errors import UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

MAX_AUDIT = 100_000
_SINCE_HELP = (
    "Only actions from then on: a local date or time (2026-12-03, 2026-12-03 19:00) "
    "or a duration back from now (30m, 2h, 3d)."
)
# An ISO 8601 moment in a detail (a scheduled time, an operation's start): shown for people.
_MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def audit(
    ctx: typer.Context,
    since: str = typer.Option(None, "--since", help=_SINCE_HELP),
    limit: int = typer.Option(50, "--limit", min=1, max=MAX_AUDIT, help="How many actions."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Operator actions, newest first: who sent, cancelled, imported or forgot what, and when."""
    from alerts.commands.tables import Column, print_table
    from alerts.storage import audit as trail

    wired = services(ctx)
    tz = wired.settings.service.tz
    start = None if since is None else since_moment(since, tz, wired.clock())
    with wired.session(read_only=True) as session:
        entries = trail.list_actions(session, since=start, limit=limit)
        total = trail.count_actions(session, since=start) if len(entries) == limit else 0
    if as_json:
        print_json([trail.entry_dict(entry, tz) for entry in entries])
        return
    if not entries:
        console.print("No operator action recorded" + (" since then." if since else "."))
        return
    cli = state(ctx)
    columns = [
        Column("when"),
        Column("operator", short="who"),
        Column("action"),
        Column("subject", wrap=True, min_width=12),
        Column("detail", wrap=True, min_width=24, below=True),
    ]
    rows = [
        (
            cli.human_time(entry.at),
            entry.operator,
            entry.action,
            entry.subject,
            describe_detail(entry.detail, cli),
        )
        for entry in entries
    ]
    print_table(columns, rows)
    if total > len(entries):
        console.print(f"{total - len(entries)} earlier action(s) not shown (--limit, --since).")


def since_moment(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    """--since as an instant: a duration back from `now` (2h, 3d), else a local date or time;
    a usage error otherwise."""
    from alerts.core.local_time import BadTime, parse_local_time
    from alerts.core.schedule_rules import BadSchedule, parse_duration

    try:
        return now - parse_duration(text)
    except BadSchedule:
        pass
    except (OverflowError, ValueError):
        raise UsageError(f"--since {text.strip()!r} reaches too far back") from None
    try:
        return parse_local_time(text, tz)
    except BadTime as exc:
        raise UsageError(f"--since: {exc}; or a duration back from now (2h, 3d)") from None


def describe_detail(detail: dict[str, Any], cli: CliState) -> str:
    """A detail on one line: "kind snow; recipients 12; zones Saint-Éloi, Lac-Doré"."""
    return "; ".join(_describe(key, value, cli) for key, value in detail.items())


def _describe(key: str, value: Any, cli: CliState) -> str:
    if value is True:
        return key
    if value is False:
        return f"no {key}"
    if isinstance(value, dict):
        inner = ", ".join(_describe(name, part, cli) for name, part in value.items())
        return f"{key} ({inner})"
    if isinstance(value, list):
        return f"{key} {', '.join(str(item) for item in value) or '-'}"
    if isinstance(value, str) and _MOMENT.match(value):
        try:
            return f"{key} {cli.human_time(value)}"
        except ValueError:
            pass
    return f"{key} {value}"
