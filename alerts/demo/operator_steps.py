"""The demo's operator half: a snow-removal alert sent and followed, then an operation whose
notices the clock sends by itself while the demo watches."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from alerts.clock.leadership import leadership_for
from alerts.clock.operations import OperationSpec, add_operation
from alerts.clock.scheduler import ClockRole
from alerts.core.composition import MessageSpec
from alerts.core.local_time import format_local
from alerts.demo.narrator import Narrator
from alerts.outbox.dispatch import run_worker
from alerts.sending.alert_reports import alert_status
from alerts.sending.delivery_status import record_status
from alerts.sending.sending import AlertRequest, prepare_alert, queue_alert
from alerts.sending.targeting import TargetSpec
from alerts.storage.models import Delivery, Notice
from alerts.wiring import Services


def send_snow_alert(services: Services, narrator: Narrator) -> int:
    """Preview, queue and dispatch a templated snow alert, then play Twilio's callbacks."""
    tz = services.settings.service.tz
    today = services.clock().astimezone(tz)
    evening = today.replace(hour=19, minute=0, second=0, microsecond=0)
    start = evening if evening - today > timedelta(hours=2) else evening + timedelta(days=1)
    request = AlertRequest(
        kind="snow",
        target=TargetSpec(zones=("Lac-Doré", "Saint-Éloi", "Côte-Blanche")),
        message=MessageSpec(
            template="snow",
            variables={"start": start.strftime("%Y-%m-%dT%H:%M"), "hours": "19:00-07:00"},
        ),
        gsm_only=True,  # "Côte-Blanche" would make it UCS-2: twice the segments
    )
    draft = prepare_alert(services, request)
    zones = ", ".join(f"{zone} {count}" for zone, count in draft.by_zone.items())
    narrator.say(f"recipients: {draft.recipients} ({zones})")
    if draft.texts.changed:
        narrator.say(f"replaced to stay in GSM-7: {draft.texts.changed}")
    for lang in ("fr", "en"):
        text = draft.texts[lang]
        narrator.say(f"[{lang}] {text.encoding}, {text.segments} segment(s): {text.text}")
    cost = draft.estimate
    narrator.say(f"total {cost.total_segments} segments, about {cost.cost:.2f} {cost.currency}")
    queued = queue_alert(services, draft)
    narrator.say(f"alert {queued.alert_id} queued; the dispatcher sends it (console gateway):")
    run_worker(services, until_idle=True, alert_id=queued.alert_id)
    with services.session(read_only=True) as session:
        sids = (
            session.execute(
                select(col(Delivery.provider_id)).where(
                    col(Delivery.alert_id) == queued.alert_id,
                    col(Delivery.provider_id).is_not(None),
                )
            )
            .scalars()
            .all()
        )
    for sid in sids:  # what Twilio's status callbacks would report
        record_status(services, sid, "delivered")
    status = alert_status(services, queued.alert_id)
    shown = {state: n for state, n in status["deliveries"].items() if n}
    narrator.say(f"alert {queued.alert_id} is {status['state']}: {shown}")
    return queued.alert_id


def live_operation(services: Services, narrator: Narrator, seconds: float = 12.0) -> None:
    """Plan an operation starting in seconds; the scheduler sends its notices on time."""
    tz = services.settings.service.tz
    now = services.clock()
    spec = OperationSpec(
        kind="snow",
        zones=("Lac-Doré",),
        start=now + timedelta(seconds=seconds * 0.6),
        end=now + timedelta(seconds=seconds * 0.85),
        notice_before=f"{seconds * 0.45:.1f}s",
        reminder_before=f"{seconds * 0.25:.1f}s",
        all_clear=True,
    )
    shown = add_operation(services, spec)
    narrator.say(
        f"operation {shown['id']} on Lac-Doré, {shown['start']} to {shown['end']} (a night "
        "squeezed into seconds for the demo); notices: "
        + ", ".join(f"{n['kind']} at {n['due'][11:19]}" for n in shown["notices"])
    )
    stop = threading.Event()
    clock = ClockRole(services, leadership_for(services.engine), stop)
    workers = [
        threading.Thread(target=clock.run, name="demo-scheduler"),
        threading.Thread(target=lambda: run_worker(services, stop=stop), name="demo-dispatch"),
    ]
    for thread in workers:
        thread.start()
    told: set[int] = set()
    deadline = time.monotonic() + seconds + 4
    try:
        while time.monotonic() < deadline and len(told) < len(shown["notices"]):
            with services.session(read_only=True) as session:
                fired = (
                    session.execute(
                        select(Notice).where(
                            col(Notice.operation_id) == shown["id"],
                            col(Notice.status) != "scheduled",
                        )
                    )
                    .scalars()
                    .all()
                )
            for notice in fired:
                if notice.id not in told:
                    told.add(notice.id)
                    when = format_local(notice.fired_at or notice.due_at, tz)[11:19]
                    narrator.say(
                        f"clock: {notice.kind} {notice.status} at {when} "
                        f"({(notice.late_seconds or 0) * 1000:.0f} ms after its time)"
                    )
            time.sleep(0.2)
        time.sleep(1.5)  # let the last messages leave
    finally:
        stop.set()
        for thread in workers:
            thread.join(30)
