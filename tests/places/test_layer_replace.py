"""Replacing the zone layer: zones matched by name and position, subscriptions never lost.

A wrong layer imported by mistake leaves subscriptions without a zone, but keeps the zone name
each was made with (and its point): the right layer, imported again, links every one back.
Names may repeat within a layer; importing the same file again changes nothing.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlmodel import col

from alerts.errors import UsageError
from alerts.places.layers import ZoneChanges, import_zones
from alerts.places.zone_list import list_zones
from alerts.sms.conversation import handle_inbound
from alerts.sms.turn import InboundSms
from alerts.storage.models import Subscription, ZoneLayerInfo, ZoneRecord
from alerts.subscribers.subscriber_import import import_subscribers
from alerts.subscribers.subscribers import add_subscriber, list_subscribers, show_subscriber
from alerts.wiring import Services
from tests.support.shared_data import DATA

QUEBEC = DATA / "quebec" / "vdq-quartier.geojson"
ELSEWHERE = DATA / "montreal" / "limites-administratives-agglomeration.geojson"
REPEATED = DATA / "montreal" / "quartierreferencehabitation.geojson"
VIEUX_QUEBEC = "Vieux-Québec—Cap-Blanc—Colline parlementaire"

_sids = itertools.count(1)


def _text(services: Services, sender: str, body: str) -> None:
    handle_inbound(
        services, InboundSms(sender=sender, body=body, message_sid=f"SM{next(_sids):032d}")
    )


def _write_layer(path: Path, zones: list[tuple[str, BaseGeometry]]) -> str:
    features = [
        {"type": "Feature", "properties": {"NOM": name}, "geometry": mapping(geometry)}
        for name, geometry in zones
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def _zone_rows(services: Services) -> list[tuple[int, str]]:
    with services.session(read_only=True) as session:
        rows = session.execute(
            select(col(ZoneRecord.id), col(ZoneRecord.name)).order_by(col(ZoneRecord.position))
        ).all()
    return [(zone_id, name) for zone_id, name in rows]


def _zone_names_kept(services: Services) -> list[str | None]:
    with services.session(read_only=True) as session:
        return list(
            session.execute(
                select(col(Subscription.zone_name)).order_by(col(Subscription.id))
            ).scalars()
        )


SQUARE_A = box(-71.30, 46.80, -71.20, 46.90)
SQUARE_B = box(-71.20, 46.80, -71.10, 46.90)
SQUARE_C = box(-71.10, 46.80, -71.00, 46.90)
FAR_AWAY = box(-10.0, 40.0, -9.9, 40.1)


def test_a_wrong_layer_then_the_right_one_links_every_subscription_back(
    services: Services, shared_data: Path, tmp_path: Path
) -> None:
    import_zones(services, str(QUEBEC))
    add_subscriber(services, "4185550101", zone="st-roch")  # an operator, by name
    _text(services, "4185550102", "ABONNER Saint-Roch")  # a resident, by name
    _text(services, "4185550102", "OUI")
    sheet = tmp_path / "subscribers.csv"
    sheet.write_text("phone,zone\n4185550103,Sillery\n")  # a CSV row, by name
    import_subscribers(services, sheet)
    add_subscriber(services, "4185550104", at="46.8123,-71.2060")  # a point
    before = {phone: show_subscriber(services, phone).zones for phone in _PHONES}
    assert before["4185550102"] == ["Saint-Roch"] and before["4185550103"] == ["Sillery"]

    wrong = import_zones(services, str(ELSEWHERE), replace=True)
    assert wrong.rematch is not None
    assert (wrong.rematch.unlinked, wrong.rematch.subscribers_unlinked) == (4, 4)
    assert (wrong.rematch.orphaned, wrong.rematch.outside) == (3, 1)
    assert wrong.zones is not None and len(wrong.zones.removed) == 35
    assert all(show_subscriber(services, phone).zones == [] for phone in _PHONES)
    # What each was made with is kept (the CSV row's too, though its import wrote none).
    assert _zone_names_kept(services) == ["Saint-Roch", "Saint-Roch", "Sillery", VIEUX_QUEBEC]

    right = import_zones(services, str(QUEBEC), replace=True)
    assert right.rematch is not None
    assert (right.rematch.relinked, right.rematch.moved, right.rematch.without_zone) == (3, 1, 0)
    assert {phone: show_subscriber(services, phone).zones for phone in _PHONES} == before
    assert list(list_subscribers(services, without_zone=True)) == []


_PHONES = ("4185550101", "4185550102", "4185550103", "4185550104")


def test_reimporting_a_layer_whose_names_repeat_changes_nothing(
    services: Services, shared_data: Path
) -> None:
    # Grouped by borough, the 91 quartiers carry 33 names: a name alone tells no zone apart.
    first = import_zones(services, str(REPEATED), name_field="nom_arr")
    assert first.imported == 91
    zones = _zone_rows(services)
    assert len({name for _, name in zones}) < 91
    add_subscriber(services, "4185550101", at="45.5017,-73.5673")  # downtown Montréal
    held = show_subscriber(services, "4185550101").zones
    for _ in range(2):
        again = import_zones(services, str(REPEATED), name_field="nom_arr", replace=True)
        assert again.zones == ZoneChanges(unchanged=91)
        assert again.rematch is not None and again.rematch.unchanged == 1
        assert _zone_rows(services) == zones  # the same ids, in the same order
        assert len(list_zones(services)) == 91
    assert show_subscriber(services, "4185550101").zones == held


def test_a_dry_run_reports_the_replace_and_changes_nothing(
    services: Services, shared_data: Path
) -> None:
    import_zones(services, str(QUEBEC))
    add_subscriber(services, "4185550101", zone="Saint-Roch")
    with services.session(read_only=True) as session:
        version = session.get(ZoneLayerInfo, 1).version  # type: ignore[union-attr]
    zones = _zone_rows(services)
    preview = import_zones(services, str(ELSEWHERE), replace=True, dry_run=True)
    assert preview.dry_run and preview.as_dict()["dry_run"] is True
    assert preview.zones is not None
    assert (len(preview.zones.added), len(preview.zones.removed)) == (34, 35)
    assert preview.rematch is not None and preview.rematch.unlinked == 1
    assert _zone_rows(services) == zones
    assert show_subscriber(services, "4185550101").zones == ["Saint-Roch"]
    with services.session(read_only=True) as session:
        assert session.get(ZoneLayerInfo, 1).version == version  # type: ignore[union-attr]


def test_a_replace_leaving_more_without_a_zone_than_agreed_changes_nothing(
    services: Services, tmp_path: Path
) -> None:
    import_zones(services, _write_layer(tmp_path / "a.geojson", [("A", SQUARE_A)]))
    add_subscriber(services, "4185550101", zone="A")
    wrong = _write_layer(tmp_path / "far.geojson", [("Far", FAR_AWAY)])
    with pytest.raises(UsageError, match="1 subscription"):
        import_zones(services, wrong, replace=True, max_unlinked=0)
    assert [name for _, name in _zone_rows(services)] == ["A"]
    assert show_subscriber(services, "4185550101").zones == ["A"]


def test_a_renamed_zone_keeps_its_id_and_its_subscribers(
    services: Services, tmp_path: Path
) -> None:
    import_zones(services, _write_layer(tmp_path / "1.geojson", [("A", SQUARE_A), ("B", SQUARE_B)]))
    add_subscriber(services, "4185550101", zone="B")
    ids = dict((name, zone_id) for zone_id, name in _zone_rows(services))
    reshaped_a = box(-71.30, 46.80, -71.21, 46.90)  # the same name, a border moved
    second = _write_layer(
        tmp_path / "2.geojson", [("A", reshaped_a), ("Bé", SQUARE_B), ("C", SQUARE_C)]
    )
    result = import_zones(services, second, replace=True)
    assert result.zones == ZoneChanges(added=("C",), renamed=(("B", "Bé"),), reshaped=1)
    after = dict((name, zone_id) for zone_id, name in _zone_rows(services))
    assert (after["A"], after["Bé"]) == (ids["A"], ids["B"])
    assert show_subscriber(services, "4185550101").zones == ["Bé"]
    assert _zone_names_kept(services) == ["Bé"]  # the name to look for, should it be unlinked


def test_a_name_that_now_repeats_is_not_guessed(services: Services, tmp_path: Path) -> None:
    import_zones(services, _write_layer(tmp_path / "1.geojson", [("Centre", SQUARE_A)]))
    add_subscriber(services, "4185550101", zone="Centre")
    import_zones(
        services, _write_layer(tmp_path / "far.geojson", [("Far", FAR_AWAY)]), replace=True
    )
    twice = _write_layer(tmp_path / "2.geojson", [("Centre", SQUARE_B), ("Centre", SQUARE_C)])
    result = import_zones(services, twice, replace=True)
    assert result.rematch is not None and result.rematch.orphaned == 1
    assert show_subscriber(services, "4185550101").zones == []  # left for review
    assert _zone_names_kept(services) == ["Centre"]  # and still waiting for its zone
    with services.session(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Subscription)).scalar_one() == 1
