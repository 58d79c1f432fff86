"""Operator use-cases on subscribers, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import select

from alerts.errors import InvalidInput, InvalidPhone, NotFound, UsageError
from alerts.storage.models import Subscriber, Subscription, Suppression
from alerts.subscribers.subscriber_import import BadRow, export_rows, import_subscribers
from alerts.subscribers.subscribers import (
    AlreadyOptedOut,
    add_subscriber,
    forget_subscriber,
    list_subscribers,
    remove_subscriber,
    show_subscriber,
)
from alerts.wiring import Services
from zones.errors import UnknownZone


def _counts(services: Services) -> tuple[int, int, int]:
    with services.session(read_only=True) as session:
        return (
            len(session.exec(select(Subscriber)).all()),
            len(session.exec(select(Subscription)).all()),
            len(session.exec(select(Suppression)).all()),
        )


def test_add_by_zone_address_and_coordinates(town: Services) -> None:
    view = add_subscriber(town, "418-555-0101", zone="ste genevieve", lang="en", topics="radar")
    assert view.as_dict() == {
        "phone": "+14185550101",
        "status": "active",
        "lang": "en",
        "zones": ["Sainte-Geneviève"],
        "topics": ["radar"],
        "error_code": None,
    }
    add_subscriber(town, "4185550101", address="1090 ch. du Lac-Doré")
    add_subscriber(town, "4185550101", at="47.0395,-71.3220")
    add_subscriber(town, "4185550101", zone="Côte-Blanche")  # again: no duplicate
    assert show_subscriber(town, "+1 418 555 0101").zones == [
        "Sainte-Geneviève",
        "Lac-Doré",
        "Côte-Blanche",
    ]
    assert show_subscriber(town, "4185550101").lang == "en"


def test_address_subscriptions_keep_their_point(town: Services) -> None:
    add_subscriber(town, "4185550101", address="1090 ch. du Lac-Doré")
    with town.session(read_only=True) as session:
        subscription = session.exec(select(Subscription)).one()
    assert subscription.lon is not None and subscription.lat is not None
    assert subscription.place_text == "1090 ch. du Lac-Doré"


def test_bad_input_is_refused_and_changes_nothing(town: Services) -> None:
    with pytest.raises(InvalidPhone):
        add_subscriber(town, "555-01", zone="Lac-Doré")
    with pytest.raises(UnknownZone):
        add_subscriber(town, "4185550101", zone="Atlantis")
    with pytest.raises(UsageError):
        add_subscriber(town, "4185550101", zone="Lac-Doré", at="47.04,-71.32")
    with pytest.raises(InvalidInput, match="outside every zone"):
        add_subscriber(town, "4185550101", at="45.50,-73.56")
    with pytest.raises(UsageError, match="unknown topic"):
        add_subscriber(town, "4185550101", zone="Lac-Doré", topics="hail")
    with pytest.raises(UsageError, match="language"):
        add_subscriber(town, "4185550101", zone="Lac-Doré", lang="de")
    assert _counts(town) == (0, 0, 0)


def test_show_unknown_number(town: Services) -> None:
    with pytest.raises(NotFound):
        show_subscriber(town, "4185550199")


def test_list_masks_numbers_and_filters_by_zone(town: Services) -> None:
    add_subscriber(town, "4185550101", zone="Lac-Doré")
    add_subscriber(town, "4185550102", zone="Saint-Éloi")
    add_subscriber(town, "4185550102", zone="Lac-Doré")
    everyone = list(list_subscribers(town))
    assert [v.phone for v in everyone] == ["+1******0101", "+1******0102"]
    assert everyone[1].zones == ["Saint-Éloi", "Lac-Doré"]
    in_eloi = list(list_subscribers(town, zone="saint eloi", include_phones=True))
    assert [v.phone for v in in_eloi] == ["+14185550102"]
    assert in_eloi[0].zones == ["Saint-Éloi", "Lac-Doré"]


def test_remove_deletes_without_suppression(town: Services) -> None:
    add_subscriber(town, "4185550101", zone="Lac-Doré")
    remove_subscriber(town, "4185550101")
    assert _counts(town) == (0, 0, 0)
    with pytest.raises(NotFound):
        remove_subscriber(town, "4185550101")


def test_forget_keeps_only_the_suppression(town: Services) -> None:
    add_subscriber(town, "4185550101", address="1090 ch. du Lac-Doré")
    assert forget_subscriber(town, "4185550101") is True
    assert _counts(town) == (0, 0, 1)
    assert show_subscriber(town, "4185550101").status == "opted_out"
    with pytest.raises(AlreadyOptedOut, match="START"):
        add_subscriber(town, "4185550101", zone="Lac-Doré")
    assert forget_subscriber(town, "4185550199") is False  # unknown numbers are suppressed too
    assert _counts(town) == (0, 0, 2)


def _write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_import_merges_rows_and_honours_opt_outs(town: Services, tmp_path: Path) -> None:
    add_subscriber(town, "4185550101", zone="Saint-Éloi", lang="fr")
    forget_subscriber(town, "4185550109")
    rows = [
        {"phone": "418 555 0101", "zone": "Lac-Doré", "lang": "en", "topics": ""},
        {"phone": "4185550102", "zone": "les erables", "lang": "", "topics": "snow"},
        {"phone": "4185550102", "address": "1090 ch. du Lac-Doré", "topics": ""},
        {"phone": "4185550103", "lat": "47.0395", "lon": "-71.3220", "topics": "radar;snow"},
        {"phone": "4185550109", "zone": "Lac-Doré", "topics": ""},
    ]
    header = ["phone", "zone", "address", "lat", "lon", "lang", "topics"]
    report = import_subscribers(town, _write_csv(tmp_path / "in.csv", rows, header))
    assert report.counts() == {
        "rows": 5,
        "subscribers_added": 2,
        "subscribers_updated": 1,
        "subscriptions_added": 4,
        "skipped_opted_out": 1,
        "skipped_inactive": 0,
        "skipped_invalid": 0,
    }
    assert show_subscriber(town, "4185550101").as_dict() == {
        "phone": "+14185550101",
        "status": "active",
        "lang": "en",
        "zones": ["Saint-Éloi", "Lac-Doré"],
        "topics": ["snow", "radar"],
        "error_code": None,
    }
    second = show_subscriber(town, "4185550102")
    assert (second.lang, second.zones, second.topics) == (
        "fr",
        ["Les Érables", "Lac-Doré"],
        ["snow"],
    )
    assert show_subscriber(town, "4185550103").zones == ["Côte-Blanche"]
    assert show_subscriber(town, "4185550109").status == "opted_out"
    again = import_subscribers(town, tmp_path / "in.csv")
    assert again.subscriptions_added == 0 and again.subscribers_added == 0


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ({"phone": "12", "zone": "Lac-Doré"}, "line 4: not a valid phone number: '12'"),
        ({"phone": "4185550104", "zone": "Narnia"}, "line 4: "),
        ({"phone": "4185550104", "lat": "north", "lon": "-71.3"}, "line 4: lat must be a number"),
        ({"phone": "4185550104", "lat": "45.5", "lon": "-73.5"}, "line 4: 45.5,-73.5 lies outside"),
        ({"phone": "4185550104", "zone": "Lac-Doré", "lang": "es"}, "line 4: unknown language"),
    ],
)
def test_a_bad_row_stops_the_import_and_changes_nothing(
    town: Services, tmp_path: Path, bad_row: dict[str, str], message: str
) -> None:
    add_subscriber(town, "4185550101", zone="Saint-Éloi")
    before = _counts(town)
    good = [
        {"phone": "4185550102", "zone": "Lac-Doré"},
        {"phone": "4185550103", "zone": "Lac-Doré"},
    ]
    header = ["phone", "zone", "lat", "lon", "lang"]
    path = _write_csv(tmp_path / "in.csv", [*good, bad_row], header)
    with pytest.raises(BadRow) as caught:
        import_subscribers(town, path)
    assert message in str(caught.value)
    assert _counts(town) == before


def test_import_refuses_unknown_columns_and_missing_phone(town: Services, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="phone"):
        import_subscribers(town, _write_csv(tmp_path / "a.csv", [{"name": "4185550101"}]))
    with pytest.raises(InvalidInput, match="unknown column"):
        import_subscribers(
            town, _write_csv(tmp_path / "b.csv", [{"phone": "4185550101", "zonee": "x"}])
        )
    (tmp_path / "c.csv").write_bytes(b"phone,zone\n\xff\xfe,x\n")
    with pytest.raises(InvalidInput):
        import_subscribers(town, tmp_path / "c.csv")
    assert _counts(town) == (0, 0, 0)


def test_export_round_trips_through_import(town: Services, tmp_path: Path) -> None:
    add_subscriber(town, "4185550101", zone="Saint-Éloi", lang="en", topics="snow")
    add_subscriber(town, "4185550101", zone="Lac-Doré")
    add_subscriber(town, "4185550102", zone="Côte-Blanche")
    masked = list(export_rows(town, include_phones=False))
    assert all("555" not in row["phone"] for row in masked)
    rows = list(export_rows(town, include_phones=True))
    path = _write_csv(tmp_path / "export.csv", rows)
    before = [v.as_dict() for v in list_subscribers(town, include_phones=True)]
    for phone in ("4185550101", "4185550102"):
        remove_subscriber(town, phone)
    import_subscribers(town, path)
    assert [v.as_dict() for v in list_subscribers(town, include_phones=True)] == before


def test_import_of_many_rows_is_bulk(town: Services, tmp_path: Path) -> None:
    rows = [
        {"phone": f"+1418555{n:04d}", "zone": ("Lac-Doré", "Saint-Éloi", "Côte-Blanche")[n % 3]}
        for n in range(3000)
    ]
    report = import_subscribers(town, _write_csv(tmp_path / "many.csv", rows))
    assert (report.subscribers_added, report.subscriptions_added) == (3000, 3000)
    assert _counts(town) == (3000, 3000, 0)
