"""The audit trail's storage, on SQLite and PostgreSQL: entries written in the caller's
transaction (rolled back with it), details kept as plain JSON, listed newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.config import Settings
from alerts.storage.audit import count_actions, entry_dict, list_actions, record_action
from alerts.wiring import UNKNOWN_OPERATOR, Services, build, current_operator

T0 = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)  # 18:00 in Québec


def test_entries_are_listed_newest_first_and_since_a_moment(services: Services) -> None:
    with services.session() as session:
        for minutes, action in ((0, "send"), (30, "cancel"), (60, "zones.import")):
            record_action(
                session, "jdoe", action, f"alert {minutes}", now=T0 + timedelta(minutes=minutes)
            )
    with services.session(read_only=True) as session:
        assert [e.action for e in list_actions(session)] == ["zones.import", "cancel", "send"]
        since = list_actions(session, since=T0 + timedelta(minutes=30))
        assert [e.action for e in since] == ["zones.import", "cancel"]
        assert [e.action for e in list_actions(session, limit=1)] == ["zones.import"]
        assert count_actions(session) == 3
        assert count_actions(session, since=T0 + timedelta(minutes=31)) == 1


def test_an_entry_rolls_back_with_its_action(services: Services) -> None:
    with pytest.raises(RuntimeError), services.session() as session:
        record_action(session, "jdoe", "send", "alert 1", now=T0)
        raise RuntimeError("the action failed after the entry was added")
    with services.session(read_only=True) as session:
        assert list_actions(session) == []


def test_details_are_stored_as_plain_json_and_shown_with_local_times(
    services: Services,
) -> None:
    with services.session() as session:
        record_action(
            session, "x" * 150, "send", "alert 7", now=T0,
            kind="snow", zones=("Lac-Doré", "Saint-Éloi"), scheduled_for=T0, urgent=None,
            counts={"added": 2},
        )  # fmt: skip
    with services.session(read_only=True) as session:
        (entry,) = list_actions(session)
        shown = entry_dict(entry, services.settings.service.tz)
    assert shown["operator"] == "x" * 100  # the column's width
    assert shown["at"] == "2026-12-03T18:00:00-05:00"
    assert shown["detail"] == {
        "kind": "snow",
        "zones": ["Lac-Doré", "Saint-Éloi"],
        "scheduled_for": "2026-12-03T23:00:00+00:00",
        "counts": {"added": 2},
    }  # None values left out


def test_the_operator_is_given_else_alerts_operator_else_the_os_user(
    settings: Settings,
) -> None:
    import getpass

    assert current_operator(settings.with_overrides(**{"service.operator": " jdoe "})) == "jdoe"
    try:
        user = getpass.getuser()
    except Exception:
        user = UNKNOWN_OPERATOR
    assert current_operator(settings) == (user or UNKNOWN_OPERATOR)
    wired = build(settings, operator="agent 311")
    try:
        assert wired.operator == "agent 311"
    finally:
        wired.close()


def test_alerts_operator_comes_from_the_environment_only(tmp_path: Path) -> None:
    from alerts.config import load_settings
    from alerts.errors import ConfigError

    assert load_settings(env={"ALERTS_OPERATOR": "jdoe"}, cwd=tmp_path).service.operator == "jdoe"
    with pytest.raises(ConfigError, match="ALERTS_OPERATOR"):
        load_settings(env={"ALERTS_OPERATOR": "j\x1bdoe"}, cwd=tmp_path)
    shared = tmp_path / "team.toml"
    shared.write_text('[service]\noperator = "jdoe"\n')
    with pytest.raises(ConfigError, match=r"service\.operator may not be stored"):
        load_settings(shared, env={}, cwd=tmp_path)
