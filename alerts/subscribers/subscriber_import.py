"""Bulk import of subscribers from CSV: validated row by row, stored in one transaction."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select
from sqlmodel import Session, col

from alerts.core.phones import parse_phone
from alerts.errors import AlertsError, InvalidInput
from alerts.gateways.documents import require_import_file
from alerts.places.places import zone_by_name, zone_for_address
from alerts.storage import store
from alerts.storage.models import ACTIVE, TOPICS, Subscriber, Subscription, Suppression
from alerts.subscribers.subscribers import (
    SubscriberView,
    list_subscribers,
    parse_lang,
    parse_topics,
)
from alerts.wiring import Services
from zones.errors import ZoneError

COLUMNS = ("phone", "zone", "address", "lat", "lon", "lang", "topics", "status")
# Rows an export marks as not active are not subscribed again by an import.
_IMPORTED_STATUSES = {"", ACTIVE}
_CHUNK = 5000
# A spreadsheet opening the export runs a cell starting with one of these as a formula
# (=HYPERLINK(...), or DDE): such cells are written with a leading apostrophe, which makes
# them text; the import takes it off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number, whole (E.164) or masked, is data a spreadsheet shows as it is.
_PHONE = re.compile(r"\+[0-9*]+")


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    subscribers_added: int = 0
    subscribers_updated: int = 0
    subscriptions_added: int = 0
    skipped_opted_out: int = 0
    skipped_inactive: int = 0
    skipped_phones: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, int]:
        """The JSON shape of `alerts subscribers import`."""
        return {
            "rows": self.rows,
            "subscribers_added": self.subscribers_added,
            "subscribers_updated": self.subscribers_updated,
            "subscriptions_added": self.subscriptions_added,
            "skipped_opted_out": self.skipped_opted_out,
            "skipped_inactive": self.skipped_inactive,
        }


@dataclass
class _Wanted:
    """One phone number's wishes, merged over the rows that name it."""

    lang: str | None = None
    topics: list[str] | None = None
    zones: dict[int, tuple[float | None, float | None, str | None]] = field(default_factory=dict)


class BadRow(InvalidInput):
    """A row of an import file that cannot be used; names the line."""


def import_subscribers(services: Services, path: str | Path) -> ImportReport:
    """Import a CSV of subscribers in one transaction; any bad row stops it and changes nothing."""
    report = ImportReport()
    wanted = _read(services, Path(path), report)
    with services.session() as session:
        suppressed = store.phones_in(session, Suppression, wanted)
        for phone in suppressed:
            wanted.pop(phone)
            report.skipped_opted_out += 1
            report.skipped_phones.append(phone)
        existing = store.phones_in(session, Subscriber, wanted)
        ids = _upsert_subscribers(services, session, wanted, existing, report)
        _insert_subscriptions(services, session, wanted, ids, report)
    return report


def _read(services: Services, path: Path, report: ImportReport) -> dict[str, _Wanted]:
    region = services.settings.service.region
    wanted: dict[str, _Wanted] = {}
    points: list[tuple[int, str, float, float]] = []  # line, phone, lon, lat
    for line, row in _rows(path):
        report.rows += 1
        status = row.get("status", "").lower()
        if status not in _IMPORTED_STATUSES:
            report.skipped_inactive += 1
            continue
        try:
            phone = parse_phone(row.get("phone", ""), region)
            entry = wanted.setdefault(phone, _Wanted())
            entry.lang = parse_lang(row.get("lang") or None) or entry.lang
            entry.topics = parse_topics(row.get("topics") or None) or entry.topics
            if row.get("lat") or row.get("lon"):
                points.append((line, phone, _number(row, "lon"), _number(row, "lat")))
            elif row.get("zone"):
                entry.zones[zone_by_name(services, row["zone"]).zone_id] = (None, None, None)
            elif row.get("address"):
                place = zone_for_address(services, row["address"])
                entry.zones[place.zone_id] = (place.lon, place.lat, place.place_text)
        except (AlertsError, ZoneError) as exc:
            raise BadRow(f"{path.name} line {line}: {exc}") from None
    if points:
        _locate_points(services, path, points, wanted)
    return wanted


def _locate_points(
    services: Services,
    path: Path,
    points: list[tuple[int, str, float, float]],
    wanted: dict[str, _Wanted],
) -> None:
    stored = services.zones.stored()
    lons = np.array([p[2] for p in points])
    lats = np.array([p[3] for p in points])
    found = stored.layer.locate_many(lon=lons, lat=lats)
    for (line, phone, lon, lat), index in zip(points, found.tolist(), strict=True):
        if index < 0:
            # Points just outside the layer still snap like a single lookup would.
            zone, _ = stored.layer.locate(lon=lon, lat=lat)
            if zone is None:
                raise BadRow(f"{path.name} line {line}: {lat},{lon} lies outside every zone")
            index = zone.index
        wanted[phone].zones[stored.zone_id(index)] = (lon, lat, None)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    require_import_file(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [name.strip().lower() for name in reader.fieldnames or []]
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name}: not UTF-8 text") from None
        if "phone" not in header:
            raise InvalidInput(f"{path.name}: the header row must name a 'phone' column")
        unknown = [name for name in header if name not in COLUMNS]
        if unknown:
            raise InvalidInput(
                f"{path.name}: unknown column(s) {', '.join(unknown)} (known: {', '.join(COLUMNS)})"
            )
        reader.fieldnames = header
        try:
            for row in reader:
                if None in row:
                    raise BadRow(f"{path.name} line {reader.line_num}: more fields than the header")
                yield reader.line_num, {k: _from_cell(v or "") for k, v in row.items()}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BadRow(f"{path.name} line {reader.line_num}: {exc}") from None


def _number(row: dict[str, str], key: str) -> float:
    try:
        return float(row.get(key, ""))
    except ValueError:
        raise InvalidInput(f"{key} must be a number (got {row.get(key)!r})") from None


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


def spreadsheet_safe(value: str) -> str:
    """A CSV cell no spreadsheet runs: a leading ' before what would start a formula."""
    if value.startswith(_FORMULA_STARTS) and not _PHONE.fullmatch(value):
        return "'" + value
    return value


def _from_cell(value: str) -> str:
    """A cell as read: trimmed, and without the apostrophe an export put before a formula."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        value = value[1:]
    return value.strip()
