"""Dispatch: the outbox worker through the real Twilio SDK, beside a plain loop of the SDK.

1. Keeping up with the carrier, default settings: configured rate 10, 100, 300, 500 per
   second x fake latency 50, 100, 250, 1,000 ms. Achieved rate (requests as the fake received
   them, first to last) as a share of the configured one (target >= 95% in every cell), and
   the whole `run_worker --until-idle` time against N / rate.
2. 10,000 recipients at an unlimited rate to a fake without latency, beside a plain loop of
   `client.messages.create` (official SDK, same fake). Target: ratio >= 1.0.
3. The same with 50 ms of latency per request; the plain loop is timed on fewer messages and
   compared as a rate. Target: >= 10x the plain loop.
4. Memory: a 100,000-recipient alert dispatched at 500/s (50 ms latency) by a worker in a
   child process whose peak RSS is measured. Target: <= 300 MB.
5. Outbox creation for 1,000,000 subscribers on SQLite (one INSERT ... SELECT), in a child
   process whose peak RSS is measured. Targets: >= 100,000 rows/s, peak memory <= 300 MB.

The fake runs in its own process, so its CPU is not taken from the process being measured.
Figures are medians of repeats. Run from the repository root:
`python benchmarks/dispatch_bench.py [--recipients N] [--repeats R] [--seconds S]`
(`--only rates|ratios|memory|outbox` runs one part).
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
    """A FakeTwilio in a child process, driven over a pipe (latency, request times)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-fake"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline()

    def latency(self, seconds: float) -> None:
        self._ask(f"latency {seconds}")

    def arrivals(self) -> list[float]:
        """When each create request arrived since the last call (and forget them)."""
        return [float(at) for at in json.loads(self._ask("arrivals"))]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def serve_fake() -> None:
    """Child mode: serve a FakeTwilio until stdin closes, answering the parent's commands."""
    from tests.support.fake_twilio import FakeTwilio

    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        print(fake.base_url, flush=True)
        seen = 0
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "latency":
                fake.latency(float(argument))
                print("ok", flush=True)
            elif command == "arrivals":
                requests = fake.requests
                times = [r.at for r in requests[seen:] if r.method == "POST"]
                seen = len(requests)
                print(json.dumps(times), flush=True)


def plain_loop_rate(url: str, messages: int) -> float:
    """Messages per second of a bare loop over the official SDK's messages.create."""
    from twilio.rest import Client

    client = Client(ACCOUNT, TOKEN)
    client.api.base_url = url
    started = time.perf_counter()
    for n in range(messages):
        client.messages.create(to=f"+1418{2000000 + n:07d}", from_=SENDER, body=BODY)
    return messages / (time.perf_counter() - started)


def town(folder: Path, recipients: int, **overrides: object) -> tuple[Settings, Path]:
    """A database with one queued alert to `recipients` subscribers; its settings."""
    path = folder / "bench.db"
    settings = Settings().with_overrides(**{"database.url": f"sqlite:///{path}", **overrides})
    services = build(settings)
    zone = import_demo_zones(services)["Saint-Éloi"]
    bulk_subscribers(services, range(recipients), zone)
    request = AlertRequest("info", TargetSpec(zones=("Saint-Éloi",)), MessageSpec(text=BODY))
    send_alert(services, request)
    services.close()
    return settings, path


def dispatch(settings: Settings, url: str) -> tuple[float, int]:
    """Run one worker until idle through the Twilio SDK; its seconds and messages sent."""
    gateway = TwilioGateway(
        ACCOUNT,
        TOKEN,
        from_number=SENDER,
        api_base_url=url,
        pool_size=settings.dispatch.max_in_flight,
    )
    services = build(settings, gateway=gateway)
    started = time.perf_counter()
    report = run_worker(services, until_idle=True)
    elapsed = time.perf_counter() - started
    services.close()
    return elapsed, report.sent


def dispatcher_rate(url: str, recipients: int) -> float:
    """Messages per second of run_worker sending one alert at an unlimited rate."""
    folder = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    settings, _ = town(
        folder,
        recipients,
        **{"dispatch.rate_per_second": 1_000_000, "dispatch.rate_unit": "messages"},
    )
    elapsed, sent = dispatch(settings, url)
    shutil.rmtree(folder)
    assert sent == recipients, sent
    return recipients / elapsed


def rate_cell(fake: Fake, rate: float, latency: float, seconds: float) -> tuple[float, float, int]:
    """At this configured rate and latency, default settings otherwise: the achieved rate
    (first to last request at the fake), the command's time, and the recipients."""
    recipients = max(50, round(rate * seconds))
    folder = Path(tempfile.mkdtemp(prefix="dispatch-rate-"))
    settings, _ = town(folder, recipients, **{"dispatch.rate_per_second": rate})
    fake.latency(latency)
    fake.arrivals()  # forget earlier requests
    elapsed, sent = dispatch(settings, fake.url)
    arrivals = sorted(fake.arrivals())
    shutil.rmtree(folder)
    assert sent == recipients == len(arrivals), (sent, recipients, len(arrivals))
    achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    return achieved, elapsed, recipients


def rate_table(fake: Fake, args: argparse.Namespace) -> None:
    print(
        "Achieved rate / configured rate, default settings (SQLite, one worker); "
        f"about {args.seconds:g} s of sending per cell, median of {args.repeats}:"
    )
    latencies = (0.05, 0.1, 0.25, 1.0)
    header = "".join(f"{f'{latency * 1000:.0f} ms':>24}" for latency in latencies)
    print(f"{'rate':>8}{header}")
    for rate in (10, 100, 300, 500):
        cells = []
        for latency in latencies:
            runs = [rate_cell(fake, rate, latency, args.seconds) for _ in range(args.repeats)]
            achieved = statistics.median(run[0] for run in runs)
            elapsed = statistics.median(run[1] for run in runs)
            ideal = runs[0][2] / rate
            cells.append(f"{achieved / rate:6.1%} {elapsed:5.1f}/{ideal:4.1f} s")
        print(f"{rate:>6}/s" + "".join(f"{cell:>24}" for cell in cells), flush=True)
    print("(each cell: achieved share of the rate, target >= 95%; command time / N / rate)")


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def compare(fake: Fake, args: argparse.Namespace, latency: float, plain_messages: int) -> None:
    fake.latency(latency)
    plain = median_of(args.repeats, lambda: plain_loop_rate(fake.url, plain_messages))
    ours = median_of(args.repeats, lambda: dispatcher_rate(fake.url, args.recipients))
    target = 1.0 if latency == 0 else 10.0
    print(
        f"latency {latency * 1000:.0f} ms: dispatcher {ours:,.0f} msg/s "
        f"({args.recipients:,} recipients, default max_in_flight, SQLite), "
        f"plain SDK loop {plain:,.0f} msg/s ({plain_messages} messages); "
        f"ratio {ours / plain:.2f} (target >= {target:g})",
        flush=True,
    )


# -- memory of a large alert ---------------------------------------------------------------


def memory_child(path: str, url: str) -> None:
    """Child mode: dispatch the alert in this database at 500/s; print sent, s, peak RSS."""
    settings = Settings().with_overrides(
        **{"database.url": f"sqlite:///{path}", "dispatch.rate_per_second": 500}
    )
    elapsed, sent = dispatch(settings, url)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"sent": sent, "seconds": elapsed, "peak_mb": peak_kb / 1024}))


def memory_of_a_large_alert(fake: Fake, recipients: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dispatch-memory-"))
    _, path = town(folder, recipients)
    fake.latency(0.05)
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(path), fake.url],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(folder)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"memory: {result['sent']:,} recipients dispatched at 500/s (50 ms latency) in "
        f"{result['seconds']:.0f} s (N / rate = {recipients / 500:.0f} s), worker peak RSS "
        f"{result['peak_mb']:.0f} MB (target <= 300)",
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
    parser.add_argument("--seconds", type=float, default=15.0, help="of sending per rate cell")
    parser.add_argument("--memory-recipients", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("rates", "ratios", "memory", "outbox"))
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--outbox-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return
    if args.outbox_child:
        outbox_child(args.outbox_child)
        return
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    fake = Fake()
    try:
        if args.only in (None, "rates"):
            rate_table(fake, args)
        if args.only in (None, "ratios"):
            compare(fake, args, 0.0, plain_messages=2_000)
            compare(fake, args, 0.05, plain_messages=100)
        if args.only in (None, "memory"):
            memory_of_a_large_alert(fake, args.memory_recipients)
    finally:
        fake.close()
    if args.only in (None, "outbox"):
        outbox_creation(args.subscribers, args.repeats)


if __name__ == "__main__":
    main()
