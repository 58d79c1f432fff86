"""The SMS webhook under load: signed subscribe requests from a second process.

Two servers run side by side, each in its own process under uvicorn:
- ours: `alerts serve` on SQLite with the demo town; every request is a new resident texting
  "abonner <address>" (signature check, geocoding, a subscriber, a subscription and the
  stored message, in one transaction);
- baseline: a bare FastAPI endpoint that parses the same form and returns a constant TwiML.
This process is the load generator (asyncio + aiohttp, a fixed number of connections).
Targets: at least 500 requests/s with p99 latency at most 50 ms on SQLite.

Run from the repository root: `python benchmarks/webhook_bench.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from fastapi import FastAPI, Request, Response
from twilio.request_validator import RequestValidator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_http import free_port, median, percentile, print_runs, stop, wait_until_up  # noqa: E402

TOKEN = "bench-token-0123456789abcdef0123"
PUBLIC = "https://alerts.example.org"


def bare_app() -> FastAPI:
    """The baseline: FastAPI parsing a form and answering constant TwiML."""
    app = FastAPI()
    reply = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'

    @app.post("/sms/inbound")
    async def inbound(request: Request) -> Response:
        await request.form()
        return Response(reply, media_type="application/xml")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def prepare_database(folder: Path) -> str:
    from alerts.config import Settings
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
    from alerts.places.layers import import_addresses, import_zones
    from alerts.wiring import build

    url = f"sqlite:///{folder / 'bench.db'}"
    services = build(Settings().with_overrides(**{"database.url": url}))
    import_zones(services, str(DEMO_LAYER))
    import_addresses(services, DEMO_ADDRESSES)
    services.close()
    return url


def signed_requests(count: int, offset: int) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Pre-signed subscribe requests from distinct residents (signing is not timed)."""
    from alerts.demo.run import DEMO_ADDRESSES

    with DEMO_ADDRESSES.open(encoding="utf-8") as handle:
        addresses = [f"{r['NO_CIVIQUE']} {r['RUE']}" for r in csv.DictReader(handle)]
    validator = RequestValidator(TOKEN)
    requests = []
    for n in range(count):
        fields = {
            "MessageSid": f"SM{offset + n:032x}",
            "AccountSid": "AC" + "0" * 32,
            "From": f"+1418{2000000 + offset + n:07d}",
            "To": "+14185550100",
            "Body": f"abonner {addresses[n % len(addresses)]}",
        }
        signature = validator.compute_signature(f"{PUBLIC}/sms/inbound", fields)
        requests.append((fields, {"X-Twilio-Signature": signature}))
    return requests


async def load(
    base: str, requests: list[tuple[dict[str, str], dict[str, str]]], connections: int
) -> tuple[float, list[float], int]:
    """Send every request over `connections` connections; (seconds, latencies, failures)."""
    # aiohttp rather than httpx: the load generator must not be the bottleneck.
    pending = iter(requests)
    latencies: list[float] = []
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for fields, headers in pending:
            started = time.perf_counter()
            async with session.post(
                f"{base}/sms/inbound", data=fields, headers=headers
            ) as response:
                text = await response.text()
            latencies.append(time.perf_counter() - started)
            if response.status != 200 or "<Message>" not in text:
                failures += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


def measure(name: str, base: str, total: int, connections: int, offset: int) -> dict[str, float]:
    warm = signed_requests(200, offset)
    asyncio.run(load(base, warm, connections))  # warm-up: imports, caches, connections
    requests = signed_requests(total, offset + 200)
    elapsed, latencies, failures = asyncio.run(load(base, requests, connections))
    return {
        "name": name,  # type: ignore[dict-item]
        "rate": total / elapsed,
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        import uvicorn

        uvicorn.run(
            bare_app(),
            host="127.0.0.1",
            port=args.bare_server,
            log_level="warning",
            access_log=False,
        )
        return

    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
        env.update(
            ALERTS_DATABASE_URL=prepare_database(Path(folder)),
            ALERTS_PUBLIC_URL=PUBLIC,
            TWILIO_AUTH_TOKEN=TOKEN,
        )
        ours_port, bare_port = free_port(), free_port()
        servers = [
            subprocess.Popen(
                [sys.executable, str(REPO / "cli.py"), "serve", "--port", str(ours_port)],
                env=env,
                cwd=folder,
                stdout=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [sys.executable, __file__, "--bare-server", str(bare_port)], cwd=folder
            ),
        ]
        try:
            ours_base, bare_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{bare_port}"
            wait_until_up(ours_base)
            wait_until_up(bare_base)
            runs: dict[str, list[dict[str, float]]] = {"ours": [], "bare": []}
            for repeat in range(args.repeats):
                offset = 1_000_000 * (repeat + 1)
                runs["ours"].append(
                    measure("ours", ours_base, args.requests, args.connections, offset)
                )
                runs["bare"].append(
                    measure("bare", bare_base, args.requests, args.connections, offset)
                )
        finally:
            stop(servers)

    print(
        f"{args.requests:,} signed requests x {args.repeats} runs, "
        f"{args.connections} connections, medians"
    )
    print_runs(
        runs, (("ours", "alerts serve, subscribe (SQLite)"), ("bare", "bare FastAPI endpoint"))
    )
    ratio = median(runs, "ours", "rate") / median(runs, "bare", "rate")
    print(f"ratio (ours / bare): {ratio:.2f}")
    met = median(runs, "ours", "rate") >= 500 and median(runs, "ours", "p99") <= 50
    print(f"target (>= 500 req/s, p99 <= 50 ms): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
