"""The Atom feed under polling: conditional GETs of /alerts.atom from a second process.

Two servers run side by side, each in its own process under uvicorn:
- ours: the service's web app (as `alerts serve` runs it) on SQLite with the demo town and
  1,000 alerts; each request carries the feed's ETag in If-None-Match, as a feed reader
  polling every minute does, and gets 304 after one fingerprint query;
- baseline: a bare FastAPI endpoint comparing If-None-Match with a constant ETag.
This process is the load generator (asyncio + aiohttp, a fixed number of connections). Full
GETs of our feed (200, the cached body) are measured too, for information.
Target: at least 500 conditional requests/s.

Run from the repository root: `python benchmarks/feeds_bench.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx2
from fastapi import FastAPI, Request, Response

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_http import free_port, median, percentile, print_runs, stop, wait_until_up  # noqa: E402

ALERTS = 1000
BARE_ETAG = '"0123456789abcdef0123456789abcdef"'


def bare_app() -> FastAPI:
    """The baseline: a constant feed with a constant ETag, and 304 when it matches."""
    app = FastAPI()
    body = b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>'

    @app.get("/alerts.atom")
    def feed(request: Request) -> Response:
        headers = {"ETag": BARE_ETAG, "Cache-Control": "public, max-age=60"}
        if request.headers.get("if-none-match") == BARE_ETAG:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/atom+xml", headers=headers)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def ours_app(url: str) -> FastAPI:
    """The service's web app on this database (what `alerts serve` serves)."""
    from alerts.config import Settings
    from alerts.web.app import create_app
    from alerts.wiring import build

    return create_app(build(Settings().with_overrides(**{"database.url": url})))


def prepare_database(folder: Path) -> str:
    """The demo town with 1,000 alerts of the last six days and a few operations."""
    from alerts.config import Settings
    from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
    from alerts.places.layers import import_addresses, import_zones
    from alerts.storage.models import Alert, Operation
    from alerts.wiring import build

    url = f"sqlite:///{folder / 'bench.db'}"
    services = build(Settings().with_overrides(**{"database.url": url}))
    import_zones(services, str(DEMO_LAYER))
    import_addresses(services, DEMO_ADDRESSES)
    stored = services.zones.stored()
    zones = [(stored.zone_id(z.index), z.name) for z in stored.layer.zones]
    now = datetime.now(UTC)
    rng = random.Random(7)
    with services.session() as session:
        for n in range(ALERTS):
            chosen = rng.sample(zones, rng.randint(1, 3))
            session.add(
                Alert(
                    kind=rng.choice(["snow", "snow", "radar", "info"]),
                    state="done",
                    body_fr=f"Avis {n}: déneigement ce soir dès 19 h, stationnement interdit.",
                    body_en=f"Notice {n}: snow removal tonight from 7 p.m., no street parking.",
                    target={"kind": "zones", "zone_ids": [z for z, _ in chosen],
                            "zones": [name for _, name in chosen]},
                    created_at=now - timedelta(minutes=rng.randint(1, 6 * 24 * 60)),
                )
            )  # fmt: skip
        for n in range(5):
            session.add(
                Operation(
                    kind="snow",
                    zone_ids=[zones[n][0]],
                    zone_names=[zones[n][1]],
                    start_at=now + timedelta(hours=n),
                    end_at=now + timedelta(hours=n + 10),
                )
            )
    services.close()
    return url


async def load(
    url: str, headers: dict[str, str], total: int, connections: int, status: int
) -> tuple[float, list[float], int]:
    """`total` GETs over `connections` connections; (seconds, latencies, failures)."""
    remaining = iter(range(total))
    latencies: list[float] = []
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for _ in remaining:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            failures += response.status != status

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


def measure(base: str, conditional: bool, total: int, connections: int) -> dict[str, float]:
    url = f"{base}/alerts.atom"
    first = httpx2.get(url, timeout=30)
    assert first.status_code == 200, first.status_code
    headers = {"If-None-Match": first.headers["etag"]} if conditional else {}
    status = 304 if conditional else 200
    asyncio.run(load(url, headers, 200, connections, status))  # warm-up
    elapsed, latencies, failures = asyncio.run(load(url, headers, total, connections, status))
    return {
        "rate": total / elapsed,
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "failures": failures,
        "bytes": len(first.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", choices=["ours", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        import uvicorn

        app = bare_app() if args.serve == "bare" else ours_app(args.database)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
        return

    with tempfile.TemporaryDirectory() as folder:
        url = prepare_database(Path(folder))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
        ports = {"ours": free_port(), "bare": free_port()}
        servers = [
            subprocess.Popen(
                [sys.executable, __file__, "--serve", kind, "--port", str(port), "--database", url],
                env=env,
                cwd=folder,
            )
            for kind, port in ports.items()
        ]
        try:
            bases = {kind: f"http://127.0.0.1:{port}" for kind, port in ports.items()}
            for base in bases.values():
                wait_until_up(base)
            runs: dict[str, list[dict[str, float]]] = {"ours": [], "full": [], "bare": []}
            for _ in range(args.repeats):
                runs["ours"].append(measure(bases["ours"], True, args.requests, args.connections))
                runs["bare"].append(measure(bases["bare"], True, args.requests, args.connections))
                runs["full"].append(measure(bases["ours"], False, args.requests, args.connections))
        finally:
            stop(servers)

    print(
        f"/alerts.atom, {ALERTS:,} alerts in the database (feed of "
        f"{median(runs, 'full', 'bytes') / 1024:,.0f} KiB): {args.requests:,} requests x "
        f"{args.repeats} runs, {args.connections} connections, medians"
    )
    print_runs(
        runs,
        (
            ("ours", "ours, If-None-Match (304)"),
            ("bare", "bare FastAPI, If-None-Match (304)"),
            ("full", "ours, full GET (200, cached body)"),
        ),
    )
    ratio = median(runs, "ours", "rate") / median(runs, "bare", "rate")
    print(f"ratio (ours / bare, conditional): {ratio:.2f}")
    met = median(runs, "ours", "rate") >= 500
    print(f"target (>= 500 conditional req/s): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
