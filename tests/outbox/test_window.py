"""The in-flight window: Little's law with headroom, halved when throttled, grown back."""

from __future__ import annotations

import pytest

from alerts.outbox.window import HEADROOM, SPARE, InFlightWindow


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settle(window: InFlightWindow, latency: float, answers: int = 200) -> None:
    for _ in range(answers):
        window.observe(latency)


@pytest.mark.parametrize(
    ("rate", "latency", "expected"),
    [(1, 2.0, 3 + SPARE), (100, 0.25, 38 + SPARE), (300, 0.1, 45 + SPARE), (500, 1.0, 750 + SPARE)],
)
def test_the_window_follows_rate_times_latency(rate: float, latency: float, expected: int) -> None:
    window = InFlightWindow(rate, 5000)
    settle(window, latency)
    assert window.limit == pytest.approx(expected, abs=1)
    assert window.limit >= rate * latency * HEADROOM  # never fewer than the rate needs


def test_the_ceiling_caps_the_window() -> None:
    window = InFlightWindow(500, 100)
    settle(window, 2.0)
    assert window.limit == 100
    assert InFlightWindow(100_000, 1).limit == 1


def test_the_first_answers_replace_the_guess_then_one_slow_answer_barely_counts() -> None:
    window = InFlightWindow(100, 5000, initial_latency=0.25)
    window.observe(1.0)
    assert window.latency == pytest.approx(1.0)  # the guess is forgotten at once
    settle(window, 0.2, 100)
    window.observe(2.0)  # one slow answer does not set the window on its own
    assert window.latency < 0.4
    settle(window, 0.2, 100)
    assert window.latency == pytest.approx(0.2, rel=0.01)


def test_requests_still_in_flight_open_the_window_before_any_answer() -> None:
    window = InFlightWindow(500, 5000, initial_latency=0.25)
    before = window.limit
    window.in_flight([0.1 * n for n in range(11)])  # sent evenly over the last second
    assert window.latency == pytest.approx(1.0)
    assert window.limit > 3 * before
    window.in_flight([0.01, 0.02, 30.0])  # one hung request: the median ignores it
    assert window.latency == pytest.approx(1.0)
    window.in_flight([])
    assert window.latency == pytest.approx(1.0)


def test_throttling_halves_once_per_burst_then_grows_back_additively() -> None:
    clock = Clock()
    window = InFlightWindow(100, 5000, clock=clock)
    settle(window, 0.5)
    full = window.limit
    window.throttled()
    assert window.limit == full // 2
    window.throttled()  # the other refusals of the same burst
    assert window.limit == full // 2
    clock.now += 1.0
    window.throttled()  # still refused a latency later: halved again
    assert window.limit == full // 4
    quarter = window.limit
    # Additive increase: about one slot per window's worth of answers.
    for _ in range(2 * quarter):
        window.observe(0.5)
    assert quarter + 1 <= window.limit <= quarter + 2
    settle(window, 0.5, 20_000)
    assert window.limit == full  # recovered: the target decides again


def test_throttling_never_closes_the_window() -> None:
    clock = Clock()
    window = InFlightWindow(10, 5000, clock=clock)
    for _ in range(20):
        clock.now += 10
        window.throttled()
    assert window.limit == 1


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        InFlightWindow(0, 10)
    with pytest.raises(ValueError):
        InFlightWindow(10, 0)
