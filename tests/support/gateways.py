"""Sending through a gateway from a test's synchronous code."""

from __future__ import annotations

import asyncio

from alerts.gateways.gateway import Gateway, OutgoingSms, SendReceipt


def send_now(gateway: Gateway, message: OutgoingSms) -> SendReceipt:
    """Send one message on an event loop of its own, then release that loop's connections."""

    async def once() -> SendReceipt:
        try:
            return await gateway.send(message)
        finally:
            await gateway.aclose()

    return asyncio.run(once())
