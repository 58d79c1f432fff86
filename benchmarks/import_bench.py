"""Subscriber CSV import: 100,000 rows through `import_subscribers`, beside a raw sqlite3 baseline.

The baseline inserts the same phone numbers and zone ids into two bare tables with sqlite3's
executemany, with no parsing or validation: the floor any import could reach. Target: the
whole import of 100,000 rows well under a minute.

Run from the repository root: `python benchmarks/import_bench.py [--rows N] [--postgres URL]`.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.config import Settings
from alerts.demo.run import DEMO_LAYER
from alerts.places.layers import import_zones
from alerts.subscribers.subscriber_import import import_subscribers
from alerts.wiring import build

ZONES = ["Lac-Doré", "saint eloi", "Côte-Blanche", "Les Erables", "Plateau-des-Pins"]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "zone", "lang", "topics"])
        for n in range(rows):
            area = 200 + n // 10_000  # +1 418 2xx xxxx, valid Québec numbers
            writer.writerow(
                [
                    f"418 {area} {n % 10_000:04d}",
                    ZONES[n % len(ZONES)],
                    "fr" if n % 3 else "en",
                    "snow;radar",
                ]
            )


def time_import(url: str, csv_path: Path) -> float:
    services = build(Settings().with_overrides(**{"database.url": url}))
    import_zones(services, str(DEMO_LAYER))
    started = time.perf_counter()
    report = import_subscribers(services, csv_path)
    elapsed = time.perf_counter() - started
    services.close()
    assert report.subscribers_added == report.rows, report
    return elapsed


def time_baseline(path: Path, csv_path: Path) -> float:
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE subscriber (id INTEGER PRIMARY KEY, phone TEXT UNIQUE)")
    connection.execute("CREATE TABLE subscription (subscriber_id INTEGER, zone TEXT)")
    started = time.perf_counter()
    with connection:
        connection.executemany(
            "INSERT INTO subscriber (phone) VALUES (?)", ((r["phone"],) for r in rows)
        )
        connection.executemany(
            "INSERT INTO subscription VALUES ((SELECT id FROM subscriber WHERE phone = ?), ?)",
            ((r["phone"], r["zone"]) for r in rows),
        )
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--postgres", help="also time on this PostgreSQL server URL (a new database)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "subscribers.csv"
        write_csv(csv_path, args.rows)
        ours, base = [], []
        for attempt in range(args.repeats):
            ours.append(time_import(f"sqlite:///{folder}/ours-{attempt}.db", csv_path))
            base.append(time_baseline(Path(folder) / f"base-{attempt}.db", csv_path))
        ours_s, base_s = statistics.median(ours), statistics.median(base)
        print(f"rows: {args.rows:,}  (median of {args.repeats})")
        print(f"import_subscribers on SQLite: {ours_s:6.2f} s  {args.rows / ours_s:10,.0f} rows/s")
        print(f"raw sqlite3 executemany:      {base_s:6.2f} s  {args.rows / base_s:10,.0f} rows/s")
        print(f"ratio (ours / raw, time):      {ours_s / base_s:6.1f}x")
        print(f"target: well under 60 s -> {'met' if ours_s < 30 else 'NOT met'}")
        if args.postgres:
            import psycopg

            name = f"alerts_bench_{int(time.time())}"
            admin = args.postgres.replace("+psycopg", "")
            with psycopg.connect(f"{admin}/test", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                pg = time_import(f"{args.postgres}/{name}", csv_path)
                print(
                    f"import_subscribers on PostgreSQL: {pg:6.2f} s  {args.rows / pg:10,.0f} rows/s"
                )
            finally:
                with psycopg.connect(f"{admin}/test", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
