"""Revision 0005 keeps on each subscription the name of its zone: filled, on upgrade, for the
subscriptions of an existing database, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely
from alembic import command
from shapely.geometry import box
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from alerts.config import DatabaseSettings
from alerts.storage import db

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "previous-version.db"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).replace(tzinfo=None)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database, SQLite then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres").create_empty()
    engine = db.make_engine(DatabaseSettings(url=url))
    yield engine
    engine.dispose()


def _zone_names(engine: Engine) -> list[tuple[str | None, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT subscription.zone_name, zone.name FROM subscription "
                "LEFT JOIN zone ON zone.id = subscription.zone_id ORDER BY subscription.id"
            )
        ).all()
    return [(kept, current) for kept, current in rows]


def test_upgrade_fills_the_zone_name_of_existing_subscriptions(empty_engine: Engine) -> None:
    with empty_engine.connect() as connection:
        command.upgrade(db.alembic_config(connection), "0004")
        connection.commit()
    wkb = shapely.to_wkb(box(-71.3, 46.8, -71.2, 46.9))
    with empty_engine.begin() as connection:
        for zone_id, name in ((1, "Saint-Roch"), (2, "Sillery")):
            connection.execute(
                text(
                    "INSERT INTO zone (id, name, slug, geometry_wkb, area_km2, position) "
                    "VALUES (:id, :name, :slug, :wkb, 1.0, :id)"
                ),
                {"id": zone_id, "name": name, "slug": name.lower(), "wkb": wkb},
            )
        connection.execute(
            text(
                "INSERT INTO subscriber (id, phone, status, lang, topic_snow, topic_radar, "
                "source, created_at, updated_at) "
                "VALUES (1, '+14185550101', 'active', 'fr', true, true, 'sms', :now, :now)"
            ),
            {"now": NOW},
        )
        rows: tuple[tuple[int, int | None], ...] = ((1, 1), (2, 2), (3, None))
        for subscription_id, held in rows:
            connection.execute(
                text(
                    "INSERT INTO subscription (id, subscriber_id, zone_id, status, created_at) "
                    "VALUES (:id, 1, :zone, 'active', :now)"
                ),
                {"id": subscription_id, "zone": held, "now": NOW},
            )
    before, after = db.upgrade(empty_engine)
    assert (before, after) == ("0004", db.head_revision())
    assert _zone_names(empty_engine) == [
        ("Saint-Roch", "Saint-Roch"),
        ("Sillery", "Sillery"),
        (None, None),  # already without a zone: no name to keep
    ]


def test_the_previous_version_fixture_upgrades_with_its_zone_names(tmp_path: Path) -> None:
    database = tmp_path / "city.db"
    shutil.copyfile(FIXTURE, database)
    engine = create_engine(f"sqlite:///{database}")
    try:
        db.upgrade(engine)
        names = _zone_names(engine)
    finally:
        engine.dispose()
    assert len(names) == 6
    assert all(kept == current and kept for kept, current in names)
    assert {kept for kept, _ in names} == {"Saint-Éloi", "Lac-Doré", "Plateau-des-Pins"}
