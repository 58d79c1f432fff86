"""Bulk import of subscribers from a spreadsheet's CSV: every row checked, stored in one
transaction.

A file with bad rows is refused whole, each bad row named with its line and reason; with
`skip_invalid` the good rows are stored and the bad ones reported (and written to a CSV for
correction and re-import when asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select
from sqlmodel import Session, col

from alerts.core.phones import parse_phone
from alerts.core.progress import Progress, ignore_progress
from alerts.errors import AlertsError, InvalidInput
from alerts.places.places import zone_by_name, zone_for_address
from alerts.storage import store
from alerts.storage.audit import record_action
from alerts.storage.models import ACTIVE, TOPICS, Subscriber, Subscription, Suppression
from alerts.subscribers.spreadsheet import (
    Reject,
    Sheet,
    check_output_path,
    from_cell,
    open_sheet,
    sheet_rows,
    spreadsheet_safe,
    write_rejects,
)
from alerts.subscribers.subscribers import (
    SubscriberView,
    list_subscribers,
    parse_lang,
    parse_topics,
)
from alerts.wiring import Services
from zones.errors import ZoneError

COLUMNS = ("phone", "zone", "address", "lat", "lon", "lang", "topics", "status")
# The header names each column goes by (compared without accents or case).
_HEADER_NAMES = {
    "phone": ("phone", "telephone", "tel", "phone number", "numero de telephone", "cellulaire"),
    "zone": ("zone", "quartier", "neighbourhood", "neighborhood"),
    "address": ("address", "adresse"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "lang": ("lang", "langue", "language"),
    "topics": ("topics", "topic", "sujets", "sujet"),
    "status": ("status", "statut"),
}
_NAMES = {word: column for column, words in _HEADER_NAMES.items() for word in words}
# The columns an errors file adds before the rows it gives back: read past on re-import.
_REJECT_COLUMNS = ("line", "reason")
# Rows an export marks as not active are not subscribed again by an import.
_IMPORTED_STATUSES = {"", ACTIVE, "actif"}
_CHUNK = 5000
# How many bad rows the one-line error names; the report and the errors file hold them all.
SHOWN_BAD_ROWS = 10


@dataclass(frozen=True)
class RowProblem:
    """A row that cannot be imported: its line in the file, and why."""

    line: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of one bad row."""
        return {"line": self.line, "reason": self.reason}


@dataclass
class ImportReport:
    """What an import did, and how it read the file."""

    rows: int = 0
    subscribers_added: int = 0
    subscribers_updated: int = 0
    subscriptions_added: int = 0
    skipped_opted_out: int = 0
    skipped_inactive: int = 0
    encoding: str = "utf-8"  # a key of spreadsheet.ENCODINGS
    delimiter: str = ","
    bad_rows: list[RowProblem] = field(default_factory=list)
    imported: bool = True  # False when bad rows refused the file
    skipped_phones: list[str] = field(default_factory=list, repr=False)

    def counts(self) -> dict[str, int]:
        """What the import did, in numbers (as the audit trail keeps it)."""
        return {
            "rows": self.rows,
            "subscribers_added": self.subscribers_added,
            "subscribers_updated": self.subscribers_updated,
            "subscriptions_added": self.subscriptions_added,
            "skipped_opted_out": self.skipped_opted_out,
            "skipped_inactive": self.skipped_inactive,
            "skipped_invalid": len(self.bad_rows) if self.imported else 0,
        }

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts subscribers import`."""
        return {
            "imported": self.imported,
            **self.counts(),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "bad_rows": [problem.as_dict() for problem in self.bad_rows],
        }


@dataclass
class _Wanted:
    """One phone number's wishes, merged over the rows that name it."""

    lang: str | None = None
    topics: list[str] | None = None
    zones: dict[int, tuple[float | None, float | None, str | None]] = field(default_factory=dict)


@dataclass
class _Row:
    """A row checked: what it asks for, its point still to locate if it gives one."""

    line: int
    phone: str
    lang: str | None
    topics: list[str] | None
    zone: tuple[int, tuple[float | None, float | None, str | None]] | None = None
    point: tuple[float, float] | None = None  # lon, lat


class BadRow(InvalidInput):
    """A row of an import file that cannot be used; names the line."""


class BadRows(BadRow):
    """An import file refused whole for its bad rows; names them and carries the report."""

    def __init__(self, path: Path, report: ImportReport) -> None:
        problems = report.bad_rows
        shown = "; ".join(f"line {p.line}: {p.reason}" for p in problems[:SHOWN_BAD_ROWS])
        more = (
            f"; and {len(problems) - SHOWN_BAD_ROWS} more" if len(problems) > SHOWN_BAD_ROWS else ""
        )
        super().__init__(
            f"{path.name}: {len(problems)} bad row(s), nothing imported: {shown}{more} "
            "(--skip-invalid imports the other rows; --errors FILE lists the bad ones)"
        )
        self.report = report


def import_subscribers(
    services: Services,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    errors_path: str | Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a CSV of subscribers in one transaction.

    Bad rows refuse the whole file (BadRows, nothing stored) unless `skip_invalid`; with
    `errors_path` they are written there as CSV either way.
    """
    path = Path(path)
    rejects = Path(errors_path) if errors_path is not None else None
    if rejects is not None:
        check_output_path(rejects, path, "--errors")
    tell = progress or ignore_progress
    report = ImportReport()
    sheet = open_sheet(path, _NAMES, required="phone", ignored=_REJECT_COLUMNS)
    report.encoding, report.delimiter = sheet.encoding, sheet.delimiter
    wanted, refused = _read(services, sheet, report, tell)
    report.bad_rows = [RowProblem(line, reason) for line, reason, _ in refused]
    if rejects is not None:
        write_rejects(rejects, sheet, refused)
    if refused and not skip_invalid:
        report.imported = False
        raise BadRows(path, report)
    tell("storing subscribers", 0, None)
    with services.session() as session:
        suppressed = store.phones_in(session, Suppression, wanted)
        for phone in suppressed:
            wanted.pop(phone)
            report.skipped_opted_out += 1
            report.skipped_phones.append(phone)
        existing = store.phones_in(session, Subscriber, wanted)
        ids = _upsert_subscribers(services, session, wanted, existing, report)
        _insert_subscriptions(services, session, wanted, ids, report)
        record_action(
            session, services.operator, "subscribers.import", path.name,
            now=services.clock(), **report.counts(), encoding=report.encoding,
        )  # fmt: skip
    tell("storing subscribers", 1, 1)
    return report


def _read(
    services: Services, sheet: Sheet, report: ImportReport, tell: Progress
) -> tuple[dict[str, _Wanted], list[Reject]]:
    """Every row checked: the wishes of the good ones by phone, and the bad ones."""
    region = services.settings.service.region
    rows: list[_Row] = []
    refused: list[Reject] = []
    raw: dict[int, list[str]] = {}  # the cells of the rows with a point, till it is located
    total = max(sheet.lines - 1, 0)
    tell("checking rows", 0, total)
    for line, cells in sheet_rows(sheet):
        report.rows += 1
        tell("checking rows", min(line - 1, total), total)
        values = _values(sheet, cells)
        if isinstance(values, str):
            refused.append((line, values, cells))
            continue
        if values.get("status", "").lower() not in _IMPORTED_STATUSES:
            report.skipped_inactive += 1
            continue
        try:
            row = _check(services, line, values, region)
        except (AlertsError, ZoneError) as exc:
            refused.append((line, str(exc), cells))
            continue
        if row.point is not None:
            raw[line] = cells
        rows.append(row)
    tell("checking rows", total, total)
    pointed = [row for row in rows if row.point is not None]
    if pointed:
        outside = _locate_points(services, pointed)
        refused.extend((row.line, reason, raw[row.line]) for row, reason in outside)
        bad = {row.line for row, _ in outside}
        rows = [row for row in rows if row.line not in bad]
    refused.sort(key=lambda reject: reject[0])
    return _merge(rows), refused


def _values(sheet: Sheet, cells: list[str]) -> dict[str, str] | str:
    """A row's cells by column name, or why they do not fit the header."""
    width = len(sheet.columns)
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        return f"{len(cells)} fields, more than the header's {width}"
    values: dict[str, str] = {}
    for name, title, cell in zip(sheet.columns, sheet.header, cells, strict=False):
        if name is not None:
            values[name] = from_cell(cell)
        elif cell.strip() and not title:
            return "a value in a column without a name"
    return values


def _check(services: Services, line: int, values: dict[str, str], region: str) -> _Row:
    """One row's phone, language, topics and zone (or point, located later), checked."""
    text = values.get("phone", "")
    if "*" in text:
        raise InvalidInput(
            f"{text!r} is a masked number (an export without --include-phones "
            "cannot be imported again)"
        )
    row = _Row(
        line,
        parse_phone(text, region),
        parse_lang(values.get("lang") or None),
        parse_topics(values.get("topics") or None),
    )
    if values.get("lat") or values.get("lon"):
        row.point = (_number(values, "lon"), _number(values, "lat"))
    elif values.get("zone"):
        row.zone = (zone_by_name(services, values["zone"]).zone_id, (None, None, None))
    elif values.get("address"):
        place = zone_for_address(services, values["address"])
        row.zone = (place.zone_id, (place.lon, place.lat, place.place_text))
    return row


def _merge(rows: list[_Row]) -> dict[str, _Wanted]:
    """The good rows' wishes by phone, later rows overriding language and topics."""
    wanted: dict[str, _Wanted] = {}
    for row in sorted(rows, key=lambda row: row.line):
        entry = wanted.setdefault(row.phone, _Wanted())
        entry.lang = row.lang or entry.lang
        entry.topics = row.topics or entry.topics
        if row.zone is not None:
            zone_id, place = row.zone
            entry.zones[zone_id] = place
    return wanted


def _locate_points(services: Services, rows: list[_Row]) -> list[tuple[_Row, str]]:
    """Give each row with a point its zone, in one pass; the rows whose point lies outside
    every zone, with why."""
    stored = services.zones.stored()
    points = [row.point for row in rows if row.point is not None]
    lons = np.array([lon for lon, _ in points])
    lats = np.array([lat for _, lat in points])
    found = stored.layer.locate_many(lon=lons, lat=lats)
    outside = []
    for row, (lon, lat), index in zip(rows, points, found.tolist(), strict=True):
        if index < 0:
            # Points just outside the layer still snap like a single lookup would.
            zone, _ = stored.layer.locate(lon=lon, lat=lat)
            if zone is None:
                outside.append((row, f"{lat},{lon} lies outside every zone"))
                continue
            index = zone.index
        row.zone = (stored.zone_id(index), (lon, lat, None))
    return outside


def _number(values: dict[str, str], key: str) -> float:
    text = values.get(key, "")
    # French spreadsheets write decimals with a comma (46,8123).
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{key} must be a number (got {values.get(key)!r})") from None


def _upsert_subscribers(
    services: Services,
    session: Session,
    wanted: dict[str, _Wanted],
    existing: dict[str, object],
    report: ImportReport,
) -> dict[str, int]:
    now = services.clock()
    default_lang = services.settings.service.default_lang
    ids: dict[str, int] = {}
    new_rows = []
    for phone, entry in wanted.items():
        current = existing.get(phone)
        if isinstance(current, Subscriber):
            assert current.id is not None
            ids[phone] = current.id
            current.status, current.updated_at = ACTIVE, now
            current.confirmed_at = current.confirmed_at or now
            if entry.lang:
                current.lang = entry.lang
            if entry.topics is not None:
                current.topic_snow, current.topic_radar = (t in entry.topics for t in TOPICS)
            session.add(current)
            report.subscribers_updated += 1
            continue
        topics = entry.topics or list(TOPICS)
        new_rows.append(
            {
                "phone": phone,
                "status": ACTIVE,
                "lang": entry.lang or default_lang,
                "topic_snow": "snow" in topics,
                "topic_radar": "radar" in topics,
                "source": "import",
                "created_at": now,
                "updated_at": now,
                "confirmed_at": now,
            }
        )
    for start in range(0, len(new_rows), _CHUNK):
        result = session.execute(
            insert(Subscriber).returning(col(Subscriber.id), col(Subscriber.phone)),
            new_rows[start : start + _CHUNK],
        )
        ids.update({phone: sid for sid, phone in result.all()})
    report.subscribers_added = len(new_rows)
    session.flush()
    return ids


def _insert_subscriptions(
    services: Services,
    session: Session,
    wanted: dict[str, _Wanted],
    ids: dict[str, int],
    report: ImportReport,
) -> None:
    now = services.clock()
    have: set[tuple[int, int | None]] = set()
    existing_ids = list(ids.values())
    for start in range(0, len(existing_ids), 500):
        chunk = existing_ids[start : start + 500]
        have.update(
            (subscriber_id, zone_id)
            for subscriber_id, zone_id in session.execute(
                select(col(Subscription.subscriber_id), col(Subscription.zone_id)).where(
                    col(Subscription.subscriber_id).in_(chunk)
                )
            )
        )
    rows = [
        {
            "subscriber_id": ids[phone],
            "zone_id": zone_id,
            "status": ACTIVE,
            "lon": lon,
            "lat": lat,
            "place_text": text,
            "created_at": now,
        }
        for phone, entry in wanted.items()
        for zone_id, (lon, lat, text) in entry.zones.items()
        if (ids[phone], zone_id) not in have
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(Subscription), rows[start : start + _CHUNK])
    report.subscriptions_added = len(rows)


def export_rows(services: Services, *, include_phones: bool) -> Iterator[dict[str, str]]:
    """One row per subscription in the import's columns (phones masked unless asked)."""
    for view in list_subscribers(services, include_phones=include_phones):
        for zone in view.zones or [""]:
            yield _export_row(view, zone)


def _export_row(view: SubscriberView, zone: str) -> dict[str, str]:
    row = {
        "phone": view.phone,
        "zone": zone,
        "lang": view.lang,
        "topics": ";".join(view.topics),
        "status": view.status,
    }
    return {key: spreadsheet_safe(value) for key, value in row.items()}
