"""How many requests a worker keeps in flight: enough for the rate, fewer when throttled.

By Little's law a sender that must reach `rate` messages a second while each request takes
`latency` seconds needs about rate x latency requests in flight. The window aims a little
above that (headroom for jitter in the latency, plus a few spare slots), follows the latency
it observes (the mean of the first answers, then an exponentially weighted moving average),
and never exceeds the configured ceiling. Before the first answers come back, the requests
still in flight are evidence too: with sends spread evenly, the median age of those in
flight is half the latency, so twice it is a floor for the estimate, and the window opens
as fast as the latency reveals itself instead of waiting for it. The token bucket, not the
window, holds the rate: extra slots only wait for tokens.

When the provider throttles (HTTP 429, Twilio's queue overflow), the window is halved at
once (at most once per observed latency, since every request in flight may come back
refused together) and grows back by about one slot per window's worth of successes, the
additive increase of TCP's congestion control.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable

HEADROOM = 1.5  # in flight = rate x latency x HEADROOM + SPARE
SPARE = 4
INITIAL_LATENCY = 0.25  # seconds, until a first answer is timed
SMOOTHING = 0.1  # weight of each new observation in the moving average


class InFlightWindow:
    """The number of requests in flight a worker aims at; thread-safe."""

    def __init__(
        self,
        rate: float,
        ceiling: int,
        *,
        initial_latency: float = INITIAL_LATENCY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or ceiling < 1:
            raise ValueError("the rate must be positive and the ceiling at least 1")
        self.rate = rate
        self.ceiling = ceiling
        self._latency = initial_latency
        self._answers = 0
        self._cap = math.inf  # lowered by throttling, raised back by successes
        self._cut_at = -math.inf
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def latency(self) -> float:
        """The smoothed latency of the gateway's answers, in seconds."""
        return self._latency

    @property
    def target(self) -> int:
        """What the rate and the latency call for, within the ceiling."""
        wanted = math.ceil(self.rate * self._latency * HEADROOM) + SPARE
        return max(1, min(self.ceiling, wanted))

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        with self._lock:
            if self._cap == math.inf:
                return self.target
            return max(1, min(self.target, math.floor(self._cap)))

    def observe(self, seconds: float) -> None:
        """A request was answered after `seconds`: follow the latency, grow back if cut."""
        with self._lock:
            self._answers += 1
            # The first answers are averaged (the initial guess is forgotten at once), later
            # ones weigh SMOOTHING each.
            weight = max(SMOOTHING, 1 / self._answers)
            self._latency += weight * (max(0.0, seconds) - self._latency)
            if self._cap != math.inf:
                self._cap += 1 / max(1.0, self._cap)
                if self._cap >= self.target:
                    self._cap = math.inf  # recovered: the target alone decides again

    def in_flight(self, ages: list[float]) -> None:
        """The requests in flight have waited this long: the latency is at least twice
        their median (robust to one hung request)."""
        if not ages:
            return
        floor = 2 * statistics.median(ages)
        with self._lock:
            if floor > self._latency:
                self._latency = floor

    def throttled(self) -> None:
        """The provider refused a request for going too fast: halve the window."""
        with self._lock:
            now = self._clock()
            if now - self._cut_at < max(self._latency, 0.05):
                return  # the same burst of refusals: one cut is enough
            self._cut_at = now
            current = min(self.target, self._cap)
            self._cap = max(1.0, math.floor(current / 2))
