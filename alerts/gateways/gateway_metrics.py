"""InstrumentedGateway: times every request to the SMS provider for /metrics.

The histogram lives in this process (the one whose dispatch workers send); /metrics of the
same process exposes it beside the figures read from the database.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram

from alerts.gateways.gateway import Gateway, GatewayError, OutgoingSms, SendReceipt

# Registered in no registry here: every /metrics registry adds it (see alerts.web.metrics).
GATEWAY_LATENCY = Histogram(
    "alerts_gateway_request_seconds",
    "Time of one send request to the SMS gateway, by gateway and outcome.",
    ["gateway", "outcome"],
    # A provider answers in tens to hundreds of milliseconds; a timeout takes seconds.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,
)


class InstrumentedGateway:
    """A gateway that records each send's latency and outcome, then behaves as the one it wraps."""

    def __init__(self, inner: Gateway) -> None:
        self.inner = inner
        self.name = inner.name

    async def send(self, message: OutgoingSms) -> SendReceipt:
        """Send through the wrapped gateway, timing the request whatever its outcome."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self.inner.send(message)
        except GatewayError as exc:
            outcome = exc.kind.value
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            GATEWAY_LATENCY.labels(self.name, outcome).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        """Release the wrapped gateway's connections on this event loop."""
        await self.inner.aclose()

    def close(self) -> None:
        """Close the wrapped gateway."""
        self.inner.close()

    def __getattr__(self, attribute: str) -> Any:
        # Tests and tools may reach the wrapped gateway's own attributes (a fake's log, say).
        return getattr(self.inner, attribute)


def instrumented(gateway: Gateway) -> Gateway:
    """The gateway wrapped for metrics (once: wrapping a wrapped gateway changes nothing)."""
    return gateway if isinstance(gateway, InstrumentedGateway) else InstrumentedGateway(gateway)
