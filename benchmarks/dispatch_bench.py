"""Dispatch: the outbox worker through the real Twilio SDK, beside a plain loop of the SDK.

1. 10,000 recipients through `run_worker` (SQLite bookkeeping, TwilioGateway) to a local fake
   Twilio, beside a plain loop of `client.messages.create` (official SDK, same fake).
   Target: ratio >= 1.0 (concurrency must hide the bookkeeping).
2. The same with 50 ms of latency per request; the plain loop is timed on fewer messages and
   compared as a rate. Target: >= 10x the plain loop.
3. Outbox creation for 1,000,000 subscribers on SQLite (one INSERT ... SELECT), in a child
   process whose peak RSS is measured. Targets: >= 100,000 rows/s, peak memory <= 300 MB.

The fake runs in its own process, so its CPU is not taken from the process being measured.
Figures are medians of repeats. Run from the repository root:
`python benchmarks/dispatch_bench.py [--recipients N] [--repeats R] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerts.config import Settings  # noqa: E402
from alerts.core.composition import MessageSpec  # noqa: E402
from alerts.gateways.twilio_gateway import TwilioGateway  # noqa: E402
from alerts.outbox.dispatch import run_worker  # noqa: E402
from alerts.sending.sending import AlertRequest, prepare_alert, queue_alert, send_alert  # noqa: E402
from alerts.sending.targeting import TargetSpec  # noqa: E402
from alerts.wiring import build  # noqa: E402
from tests.support.dispatch import bulk_subscribers, import_demo_zones  # noqa: E402

ACCOUNT = "AC" + "0" * 32
TOKEN = "bench-token"
SENDER = "+15005550006"
BODY = "Déneigement dans votre quartier dès 19 h. Stationnement interdit dans la rue."


class Fake:
    """A FakeTwilio in a child process, told its latency over a pipe."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-fake"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def latency(self, seconds: float) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{seconds}\n")
        self.process.stdin.flush()
        self.process.stdout.readline()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def serve_fake() -> None:
    """Child mode: serve a FakeTwilio until stdin closes; each line sets the latency."""
    from tests.support.fake_twilio import FakeTwilio

    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        print(fake.base_url, flush=True)
        for line in sys.stdin:
            fake.latency(float(line))
            print("ok", flush=True)


def plain_loop_rate(url: str, messages: int) -> float:
    """Messages per second of a bare loop over the official SDK's messages.create."""
    from twilio.rest import Client

    client = Client(ACCOUNT, TOKEN)
    client.api.base_url = url
    started = time.perf_counter()
    for n in range(messages):
        client.messages.create(to=f"+1418{2000000 + n:07d}", from_=SENDER, body=BODY)
    return messages / (time.perf_counter() - started)


def dispatcher_rate(url: str, recipients: int, concurrency: int) -> float:
    """Messages per second of run_worker sending one alert to `recipients` subscribers."""
    folder = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    settings = Settings().with_overrides(
        **{
            "database.url": f"sqlite:///{folder / 'bench.db'}",
            "dispatch.rate_per_second": 1_000_000,
            "dispatch.rate_unit": "messages",
            "dispatch.concurrency": concurrency,
        }
    )
    gateway = TwilioGateway(
        ACCOUNT, TOKEN, from_number=SENDER, api_base_url=url, pool_size=concurrency
    )
    services = build(settings, gateway=gateway)
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(recipients), zone)
    request = AlertRequest("info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text=BODY))
    send_alert(services, request)
    started = time.perf_counter()
    report = run_worker(services, until_idle=True)
    elapsed = time.perf_counter() - started
    services.close()
    shutil.rmtree(folder)
    assert report.sent == recipients, report
    return recipients / elapsed


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def compare(fake: Fake, args: argparse.Namespace, latency: float, plain_messages: int) -> None:
    fake.latency(latency)
    plain = median_of(args.repeats, lambda: plain_loop_rate(fake.url, plain_messages))
    ours = median_of(
        args.repeats, lambda: dispatcher_rate(fake.url, args.recipients, args.concurrency)
    )
    target = 1.0 if latency == 0 else 10.0
    print(
        f"latency {latency * 1000:.0f} ms: dispatcher {ours:,.0f} msg/s "
        f"({args.recipients:,} recipients, concurrency {args.concurrency}, SQLite), "
        f"plain SDK loop {plain:,.0f} msg/s ({plain_messages} messages); "
        f"ratio {ours / plain:.2f} (target >= {target:g})",
        flush=True,
    )


# -- outbox creation -------------------------------------------------------------------------


def make_million(path: Path, subscribers: int) -> None:
    """A database with the demo zones and `subscribers` active subscribers, in bulk."""
    services = build(Settings().with_overrides(**{"database.url": f"sqlite:///{path}"}))
    zone_ids = list(import_demo_zones(services).values())
    services.close()
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        connection.executemany(
            "INSERT INTO subscriber (id, phone, status, lang, topic_snow, topic_radar, source, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'bench', ?, ?)",
            (
                (n + 1, f"+1{4180000000 + n}", "opted_out" if n % 100 == 0 else "active",
                 "en" if n % 4 == 0 else "fr", n % 10 != 0, True, now, now)
                for n in range(subscribers)
            ),
        )  # fmt: skip
        connection.executemany(
            "INSERT INTO subscription (subscriber_id, zone_id, status, created_at) "
            "VALUES (?, ?, 'active', ?)",
            ((n + 1, zone_ids[n % len(zone_ids)], now) for n in range(subscribers)),
        )


def outbox_child(path: str) -> None:
    """Child mode: queue one city-wide snow alert; print rows, seconds and peak RSS."""
    settings = Settings().with_overrides(**{"database.url": f"sqlite:///{path}"})
    services = build(settings)
    names = [zone.name for zone in services.zones.layer()]
    request = AlertRequest("snow", TargetSpec(zones=tuple(names)), MessageSpec(text=BODY))
    draft = prepare_alert(services, request)
    started = time.perf_counter()
    queued = queue_alert(services, draft)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": queued.recipients, "seconds": elapsed, "peak_mb": peak_kb / 1024}))


def outbox_creation(subscribers: int, repeats: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    pristine = folder / "pristine.db"
    started = time.perf_counter()
    make_million(pristine, subscribers)
    print(f"({subscribers:,} subscribers generated in {time.perf_counter() - started:.0f} s)")
    results = []
    for n in range(repeats):
        copy = folder / f"run{n}.db"
        shutil.copy(pristine, copy)
        out = subprocess.run(
            [sys.executable, __file__, "--outbox-child", str(copy)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        copy.unlink()
    shutil.rmtree(folder)
    rate = statistics.median(r["rows"] / r["seconds"] for r in results)
    peak = max(r["peak_mb"] for r in results)
    print(
        f"outbox creation on SQLite: {results[0]['rows']:,} deliveries from {subscribers:,} "
        f"subscribers at {rate:,.0f} rows/s (target >= 100,000), "
        f"peak RSS {peak:.0f} MB (target <= 300)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--outbox-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return
    if args.outbox_child:
        outbox_child(args.outbox_child)
        return
    fake = Fake()
    try:
        compare(fake, args, 0.0, plain_messages=2_000)
        compare(fake, args, 0.05, plain_messages=100)
    finally:
        fake.close()
    outbox_creation(args.subscribers, args.repeats)


if __name__ == "__main__":
    main()
