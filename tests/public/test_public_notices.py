"""The public rules: alert windows, phases, withdrawn alerts, zone states, snapshot validity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.public.public_cache import PublicCache
from alerts.public.public_notices import (
    CURRENT,
    IN_PROGRESS,
    NONE,
    PAST,
    SCHEDULED,
    UPCOMING,
    fingerprint,
    load_snapshot,
)
from alerts.sending.cancelling import cancel_alert
from alerts.storage.models import Operation
from alerts.wiring import Services
from tests.support.public import NOW, Clock, add_alert, add_operation, zone_ids

HOUR = timedelta(hours=1)


@pytest.fixture
def scene(public_town: Services) -> dict[str, int]:
    """Notices of every sort around NOW, by name."""
    ids = {
        "notice": add_alert(public_town, zones=("Lac-Doré",), created_at=NOW - 3 * HOUR),
        "plain": add_alert(public_town, zones=("Saint-Éloi",), created_at=NOW - HOUR),
        "scheduled": add_alert(
            public_town,
            zones=("Plateau-des-Pins",),
            state="scheduled",
            scheduled_for=NOW + 2 * HOUR,
        ),
        "old": add_alert(public_town, created_at=NOW - timedelta(days=3)),
        "ancient": add_alert(public_town, created_at=NOW - timedelta(days=20)),
        "failed": add_alert(public_town, state="failed"),
        "cancelled": add_alert(public_town, zones=("Côte-Blanche",), state="cancelled"),
    }
    ids["running"] = add_operation(
        public_town, zones=("Lac-Doré",), start_at=NOW - HOUR, end_at=NOW + 5 * HOUR,
        notice_alert=ids["notice"],
    )  # fmt: skip
    ids["tomorrow"] = add_operation(
        public_town, zones=("Côte-Blanche",), start_at=NOW + 20 * HOUR, end_at=NOW + 30 * HOUR
    )
    return ids


def test_an_operation_notice_speaks_of_the_operation_window(
    public_town: Services, scene: dict[str, int]
) -> None:
    snapshot = load_snapshot(public_town, NOW)
    notice = next(a for a in snapshot.alerts if a.id == scene["notice"])
    assert (notice.onset, notice.expires) == (NOW - HOUR, NOW + 5 * HOUR)
    assert notice.operation_id == scene["running"]
    plain = next(a for a in snapshot.alerts if a.id == scene["plain"])
    assert (plain.onset, plain.expires) == (NOW - HOUR, NOW + 23 * HOUR)  # web.alert_hours
    assert plain.phase(NOW) == CURRENT


def test_the_feed_window_keeps_recent_alerts_and_drops_failed_and_old_ones(
    public_town: Services, scene: dict[str, int]
) -> None:
    snapshot = load_snapshot(public_town, NOW)
    ids = [a.id for a in snapshot.alerts]
    assert scene["old"] in ids and scene["cancelled"] in ids
    assert scene["ancient"] not in ids and scene["failed"] not in ids
    # Newest effective time first: the scheduled alert leads.
    assert ids[0] == scene["scheduled"]
    old = next(a for a in snapshot.alerts if a.id == scene["old"])
    assert old.phase(NOW) == PAST


def test_listed_notices_are_current_or_upcoming_and_not_withdrawn(
    public_town: Services, scene: dict[str, int]
) -> None:
    snapshot = load_snapshot(public_town, NOW)
    listed = {a.id for a in snapshot.listed_alerts()}
    # The operation's own notice is shown with the operation, not twice.
    assert listed == {scene["plain"], scene["scheduled"]}
    assert [op.id for op in snapshot.listed_operations()] == [scene["running"], scene["tomorrow"]]
    cancelled = next(a for a in snapshot.alerts if a.id == scene["cancelled"])
    assert cancelled.withdrawn
    saint_eloi = zone_ids(public_town, "Saint-Éloi")[0]
    recent = {a.id for a in snapshot.listed_alerts(saint_eloi, recent=True)}
    assert recent == {scene["plain"], scene["old"]}


def test_zone_states_follow_operations_and_alerts_still_to_send(
    public_town: Services, scene: dict[str, int], clock: Clock
) -> None:
    names = ["Lac-Doré", "Côte-Blanche", "Plateau-des-Pins", "Saint-Éloi"]
    lac, cote, plateau, eloi = zone_ids(public_town, *names)
    snapshot = load_snapshot(public_town, NOW)
    assert snapshot.zone_state(lac) == IN_PROGRESS
    assert snapshot.zone_state(cote) == SCHEDULED
    assert snapshot.zone_state(plateau) == SCHEDULED
    # A plain alert in effect is listed, but the zone has no operation: nothing planned.
    assert snapshot.zone_state(eloi) == NONE
    later = load_snapshot(public_town, NOW + 21 * HOUR)
    assert later.zone_state(lac) == NONE
    assert later.zone_state(cote) == IN_PROGRESS
    assert later.zone_state(plateau) == NONE


def test_a_snapshot_knows_when_it_changed_and_when_it_next_will(
    public_town: Services, scene: dict[str, int]
) -> None:
    snapshot = load_snapshot(public_town, NOW)
    assert snapshot.valid_until == NOW + 2 * HOUR  # the scheduled alert goes out
    assert snapshot.last_modified <= NOW
    upcoming = next(a for a in snapshot.alerts if a.id == scene["scheduled"])
    assert upcoming.phase(NOW) == UPCOMING
    assert upcoming.phase(snapshot.valid_until) == CURRENT


def test_a_cancelled_operation_withdraws_its_notices(public_town: Services) -> None:
    alert_id = add_alert(public_town, zones=("Lac-Doré",))
    add_operation(
        public_town,
        start_at=NOW + HOUR,
        end_at=NOW + 9 * HOUR,
        status="cancelled",
        notice_alert=alert_id,
    )
    snapshot = load_snapshot(public_town, NOW)
    assert [a.withdrawn for a in snapshot.alerts] == [True]
    assert snapshot.listed_alerts() == [] and snapshot.listed_operations() == []


def test_a_correction_concerns_the_zones_of_the_alert_it_corrects(public_town: Services) -> None:
    original = add_alert(public_town, zones=("Lac-Doré", "Côte-Blanche"))
    result = cancel_alert(public_town, original, notify="Annulé: pas de déneigement ce soir.")
    assert result.correction_id is not None
    snapshot = load_snapshot(public_town, NOW)
    correction = next(a for a in snapshot.alerts if a.id == result.correction_id)
    assert [z.name for z in correction.zones] == ["Côte-Blanche", "Lac-Doré"]  # layer order
    assert correction.correction_of == original
    # A correction of an alert already sent leaves the alert standing (CAP: an Update).
    assert not next(a for a in snapshot.alerts if a.id == original).withdrawn


def test_the_fingerprint_changes_with_every_public_change(public_town: Services) -> None:
    def stamp() -> tuple[object, ...]:
        with public_town.session(read_only=True) as session:
            return fingerprint(session)

    first = stamp()
    alert_id = add_alert(public_town, state="queued")
    second = stamp()
    cancel_alert(public_town, alert_id)
    third = stamp()
    operation_id = add_operation(public_town, start_at=NOW + HOUR, end_at=NOW + 2 * HOUR)
    fourth = stamp()
    with public_town.session() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None
        operation.updated_at = NOW + HOUR
    assert len({first, second, third, fourth, stamp()}) == 5


def test_the_cache_renders_again_only_when_data_or_phase_changes(
    public_town: Services, clock: Clock
) -> None:
    add_alert(public_town, state="scheduled", scheduled_for=NOW + HOUR)
    cache = PublicCache(public_town)
    renders: list[object] = []

    def render(snapshot: object) -> object:
        from alerts.public.public_cache import Rendered

        renders.append(snapshot)
        return Rendered(b"x", NOW, getattr(snapshot, "valid_until", None))

    cache.document("k", render)  # type: ignore[arg-type]
    cache.document("k", render)  # type: ignore[arg-type]
    assert len(renders) == 1
    clock.advance(hours=1)  # the scheduled alert's time: its phase changes
    cache.document("k", render)  # type: ignore[arg-type]
    assert len(renders) == 2
    add_alert(public_town)
    cache.document("k", render)  # type: ignore[arg-type]
    assert len(renders) == 3
