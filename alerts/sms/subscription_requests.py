"""Subscribing by SMS: a place, perhaps a choice among candidates, then a confirmation (OUI/YES).

The state between two messages lives in the subscriber's `pending_state`:
{"kind": "choose", "options": [...]} while the resident picks 1, 2, 3...; then
{"kind": "confirm", "zones": [zone ids]} until OUI/YES (double opt-in) or NON/NO.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlmodel import col

from alerts.places.places import resolve
from alerts.sms.turn import Turn, TurnOutcome
from alerts.storage import store
from alerts.storage.models import ACTIVE, PENDING, Subscriber, Subscription, table_of
from alerts.wiring import Services
from zones.errors import ZoneError
from zones.geocode import PlaceMatch
from zones.layer import Zone

MAX_CHOICES = 5  # a numbered list must still fit one SMS
_SUBSCRIBERS = table_of(Subscriber)
_INSERT_SUBSCRIBER = insert(_SUBSCRIBERS).returning(_SUBSCRIBERS.c.id)
_INSERT_SUBSCRIPTION = insert(table_of(Subscription))


class SubscriptionRequests:
    """The subscription steps of one conversation turn."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn

    def ask(self, text: str, *, strict: bool) -> TurnOutcome | None:
        """A place was sent: ask to confirm its zone, or to choose; None if not a place."""
        turn = self.turn
        try:
            match = resolve(turn.services, text)
        except ZoneError:  # PlaceNotFound, or a place the layer cannot read
            return TurnOutcome(turn.say("not_found"), "not_found") if strict else None
        if match.ambiguous:
            return self._offer_choices(match)
        if match.zone is None:
            return TurnOutcome(turn.say("outside"), "outside")
        zone_id = turn.services.zones.stored().zone_id(match.zone.index)
        place = text.strip()[:200] if match.kind in ("address", "point") else None
        return self._ask_confirmation(zone_id, match.zone.name, match.lon, match.lat, place)

    def choose(self, number: int) -> TurnOutcome | None:
        """The resident picked an option of the list sent before; None if no list was sent."""
        state = self._state("choose")
        if state is None:
            return None
        options: list[dict[str, Any]] = state["options"]
        if not 1 <= number <= len(options):
            return self._send_choices(options)
        option = options[number - 1]
        return self._ask_confirmation(
            option["zone_id"],
            option["zone"],
            option.get("lon"),
            option.get("lat"),
            option.get("place"),
        )

    def confirm(self) -> TurnOutcome | None:
        """OUI/YES: the pending subscriptions become active; None if nothing was pending."""
        turn = self.turn
        state = self._state("confirm")
        if state is None or turn.subscriber is None:
            return None
        subscriber = turn.subscriber
        turn.session.execute(
            update(Subscription)
            .where(
                col(Subscription.subscriber_id) == subscriber.id,
                col(Subscription.zone_id).in_(state["zones"]),
            )
            .values(status=ACTIVE)
        )
        store.lift_suppression(turn.session, turn.phone)  # a new, explicit consent
        subscriber.status = ACTIVE
        subscriber.confirmed_at = turn.now
        subscriber.opted_out_at = None
        subscriber.pending_state = None
        turn.touch()
        turn.session.flush()
        zones, topics = turn.zones_text(), turn.topics_text()
        return TurnOutcome(turn.say("subscribed", zones=zones, topics=topics), "subscribed")

    def decline(self) -> TurnOutcome | None:
        """NON/NO: forget the pending request (and the number, if nothing else is kept)."""
        turn = self.turn
        state = self._state("confirm") or self._state("choose")
        if state is None or turn.subscriber is None:
            return None
        subscriber = turn.subscriber
        turn.session.execute(
            delete(Subscription).where(
                col(Subscription.subscriber_id) == subscriber.id,
                col(Subscription.status) == PENDING,
            )
        )
        subscriber.pending_state = None
        turn.touch()
        turn.session.flush()
        if subscriber.status == PENDING and not turn.subscriptions():
            store.delete_personal_data(turn.session, subscriber)
            turn.subscriber = None
        return TurnOutcome(turn.say("declined"), "declined")

    # -- steps ------------------------------------------------------------------------------

    def _ask_confirmation(
        self,
        zone_id: int,
        zone_name: str,
        lon: float | None,
        lat: float | None,
        place: str | None,
    ) -> TurnOutcome:
        turn = self.turn
        pending = {"kind": "confirm", "zones": [zone_id]}
        place_row = {"zone_id": zone_id, "lon": lon, "lat": lat, "place_text": place}
        place_row["zone_name"] = zone_name  # kept should a layer import unlink the zone
        if turn.subscriber is None:
            self._newcomer(pending, place_row)
            return TurnOutcome(turn.say("confirm", zone=zone_name), "confirm_requested")
        subscriber = turn.subscriber
        assert subscriber.id is not None
        held = {s.zone_id: s for s, _ in turn.subscriptions()}
        if zone_id in held and held[zone_id].status == ACTIVE and subscriber.status == ACTIVE:
            subscriber.pending_state = None
            turn.touch()
            zones, topics = turn.zones_text(), turn.topics_text()
            return TurnOutcome(turn.say("already", zones=zones, topics=topics), "already")
        subscriber.pending_state = pending
        turn.touch()
        store.add_subscription(
            turn.session,
            subscriber.id,
            zone_id,
            status=PENDING,
            lon=lon,
            lat=lat,
            place_text=place,
            now=turn.now,
        )
        return TurnOutcome(turn.say("confirm", zone=zone_name), "confirm_requested")

    def _offer_choices(self, match: PlaceMatch) -> TurnOutcome:
        turn = self.turn
        stored = turn.services.zones.stored()
        options: list[dict[str, Any]] = []
        for candidate in match.candidates[:MAX_CHOICES]:
            lon = getattr(candidate, "lon", None)
            lat = getattr(candidate, "lat", None)
            if lon is not None and lat is not None:
                zone, _ = stored.layer.locate(lon, lat)
                if zone is None:
                    continue
                label = getattr(candidate, "label", zone.name)
                place = label
            else:
                assert isinstance(candidate, Zone)  # no position: a zone name's candidate
                zone, label, place = candidate, candidate.name, None
            options.append(
                {
                    "zone_id": stored.zone_id(zone.index),
                    "zone": zone.name,
                    "label": label,
                    "lon": lon,
                    "lat": lat,
                    "place": place,
                }
            )
        state = {"kind": "choose", "options": options}
        if turn.subscriber is None:
            self._newcomer(state)
        else:
            turn.subscriber.pending_state = state
            turn.touch()
        return self._send_choices(options)

    def _send_choices(self, options: list[dict[str, Any]]) -> TurnOutcome:
        listed = ", ".join(f"{n} {option['label']}" for n, option in enumerate(options, 1))
        return TurnOutcome(self.turn.say("choose", choices=listed), "choose_requested")

    def _newcomer(self, pending: dict[str, Any], place: dict[str, Any] | None = None) -> None:
        """Store a first-time sender, pending, with the question asked (and the place given).

        Core inserts: this is the hot path of a city-wide sign-up rush.
        """
        turn = self.turn
        connection = turn.session.connection()
        subscriber_id = connection.execute(
            _INSERT_SUBSCRIBER,
            {
                "phone": turn.phone,
                "status": PENDING,
                "lang": turn.lang,
                "topic_snow": True,
                "topic_radar": True,
                "source": "sms",
                "pending_state": pending,
                "created_at": turn.now,
                "updated_at": turn.now,
            },
        ).scalar_one()
        if place is not None:
            connection.execute(
                _INSERT_SUBSCRIPTION,
                {
                    "subscriber_id": subscriber_id,
                    "status": PENDING,
                    "created_at": turn.now,
                    **place,
                },
            )

    def _state(self, kind: str) -> dict[str, Any] | None:
        subscriber = self.turn.subscriber
        state = subscriber.pending_state if subscriber is not None else None
        return state if state and state.get("kind") == kind else None


def forget_stale_requests(services: Services) -> int:
    """Delete subscription requests never confirmed within `sms.pending_days`; returns them.

    A number that holds nothing else (never confirmed, not opted out) is deleted with its
    messages; an opt-out's suppression record is never touched.
    """
    cutoff = services.clock() - timedelta(days=services.settings.sms.pending_days)
    with services.session() as session:
        stale = session.execute(
            select(col(Subscription.id), col(Subscription.subscriber_id)).where(
                col(Subscription.status) == PENDING, col(Subscription.created_at) < cutoff
            )
        ).all()
        if stale:
            session.execute(
                delete(Subscription).where(col(Subscription.id).in_([r[0] for r in stale]))
            )
            # The question their OUI would answer no longer stands.
            session.execute(
                update(Subscriber)
                .where(col(Subscriber.id).in_(sorted({r[1] for r in stale})))
                .values(pending_state=None)
            )
        strangers = (
            session.execute(
                select(Subscriber).where(
                    col(Subscriber.status) == PENDING,
                    col(Subscriber.updated_at) < cutoff,
                    ~col(Subscriber.id).in_(select(col(Subscription.subscriber_id))),
                )
            )
            .scalars()
            .all()
        )
        for subscriber in strangers:
            store.delete_personal_data(session, subscriber)
    return len(stale)
