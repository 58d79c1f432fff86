"""An alert's progress as `alerts status --follow` draws it: how many are done, and whether
the alert is over (one cheap query a second, whoever sends it)."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.sending.sending import AlertNotFound, count_by_state
from alerts.storage.models import Alert
from alerts.wiring import Services

# An alert in one of these states sends nothing more.
FINISHED = ("done", "cancelled", "failed")
_WAITING = ("queued", "sending")


@dataclass(frozen=True)
class AlertProgress:
    """Where an alert stands: its state and its deliveries by state."""

    alert_id: int
    state: str
    recipients: int
    by_state: dict[str, int]

    @property
    def finished(self) -> bool:
        """Whether the alert is over (done, cancelled or failed)."""
        return self.state in FINISHED

    @property
    def done(self) -> int:
        """Deliveries settled one way or another (nothing more to send for them)."""
        return sum(count for state, count in self.by_state.items() if state not in _WAITING)

    @property
    def total(self) -> int:
        """Deliveries written, or the recipients counted while it is scheduled."""
        return sum(self.by_state.values()) or self.recipients

    def count(self, *states: str) -> int:
        """Deliveries in these states."""
        return sum(self.by_state.get(state, 0) for state in states)

    def describe(self) -> str:
        """One line: `alert 12 sending: 120/400 done (sent 118, failed 2), 280 to send`."""
        line = f"alert {self.alert_id} {self.state}: {self.done}/{self.total} done"
        sent = self.count("sent", "delivered", "undelivered")
        others = [f"sent {sent}"]
        for state in ("failed", "skipped", "cancelled", "unknown"):
            if self.by_state.get(state):
                others.append(f"{state} {self.by_state[state]}")
        line += f" ({', '.join(others)})"
        waiting = self.count(*_WAITING)
        return line + (f", {waiting} to send" if waiting else "")


def alert_progress(services: Services, alert_id: int) -> AlertProgress:
    """An alert's state and its deliveries counted by state."""
    with services.session(read_only=True) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        counts = count_by_state(session, alert_id)
        return AlertProgress(alert_id, alert.state, alert.recipients, counts)
