"""What the HTTP benchmarks share: servers on free local ports, latency percentiles, and
the report of repeated runs (medians of each kind of run)."""

from __future__ import annotations

import socket
import statistics
import subprocess
import time
from collections.abc import Iterable

import httpx2


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, seconds: float = 30.0) -> None:
    """Wait until `base`/health answers 200 (a server process starting)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server at {base} did not start")


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def stop(servers: Iterable[subprocess.Popen[bytes]]) -> None:
    """Stop the server processes and wait for them."""
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


def median(runs: dict[str, list[dict[str, float]]], kind: str, key: str) -> float:
    """The median of one figure over the repeated runs of one kind."""
    return statistics.median(run[key] for run in runs[kind])


def print_runs(
    runs: dict[str, list[dict[str, float]]], labels: tuple[tuple[str, str], ...]
) -> None:
    """One line per kind of run: median rate, p50 and p99, and the failures of every run."""
    width = max(len(label) for _, label in labels) + 2
    for kind, label in labels:
        failures = sum(run["failures"] for run in runs[kind])
        print(
            f"{label:<{width}} {median(runs, kind, 'rate'):8,.0f} req/s"
            f"  p50 {median(runs, kind, 'p50'):6.1f} ms"
            f"  p99 {median(runs, kind, 'p99'):6.1f} ms  failures {failures}"
        )
