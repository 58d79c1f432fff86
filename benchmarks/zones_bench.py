"""Benchmark ZoneLayer lookups on Québec's quartiers against geopandas.sjoin.

Run from the repository: python benchmarks/zones_bench.py
Reads ../shared/data/quebec/vdq-quartier.geojson (relative to the repository).
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from zones import ZoneLayer  # noqa: E402

LAYER_FILE = REPO / ".." / "shared" / "data" / "quebec" / "vdq-quartier.geojson"
POINTS = 1_000_000
SINGLE_CALLS = 200_000
REPEATS = 3
SEED = 20240101
TARGET_RATIO = 5.0
TARGET_LOCATE_PER_S = 200_000


def median_seconds(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of several runs of `run`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    """Time locate_many, geopandas.sjoin and single locate calls; print rates and targets."""
    if not LAYER_FILE.exists():
        print(f"missing data file {LAYER_FILE.resolve()}: nothing to benchmark")
        return 2
    import geopandas  # the baseline only; zones itself never imports it

    started = time.perf_counter()
    layer = ZoneLayer.from_file(LAYER_FILE)
    layer.locate(*layer.zones[0].geometry.representative_point().coords[0])  # builds the grid
    load_s = time.perf_counter() - started

    rng = np.random.default_rng(SEED)
    minx, miny, maxx, maxy = layer.bounds
    lon, lat = rng.uniform(minx, maxx, POINTS), rng.uniform(miny, maxy, POINTS)

    ours_s = median_seconds(lambda: layer.locate_many(lon, lat))
    ours = layer.locate_many(lon, lat)

    zones_gdf = geopandas.GeoDataFrame(
        {"name": [z.name for z in layer]}, geometry=[z.geometry for z in layer], crs="EPSG:4326"
    )
    points_gdf = geopandas.GeoDataFrame(
        geometry=geopandas.points_from_xy(lon, lat), crs="EPSG:4326"
    )
    joined = None

    def baseline() -> None:
        nonlocal joined
        joined = geopandas.sjoin(points_gdf, zones_gdf, predicate="within")

    theirs_s = median_seconds(baseline)
    theirs = np.full(POINTS, -1, dtype=np.int64)
    first = joined[~joined.index.duplicated(keep="first")]  # type: ignore[union-attr]
    theirs[first.index.to_numpy()] = first["index_right"].to_numpy()
    agreement = float(np.mean(theirs == ours))

    xs, ys = lon[:SINGLE_CALLS].tolist(), lat[:SINGLE_CALLS].tolist()
    locate = layer.locate

    def singles() -> None:
        for x, y in zip(xs, ys, strict=True):
            locate(x, y)

    single_s = median_seconds(singles, repeats=5)

    ours_rate, theirs_rate = POINTS / ours_s, POINTS / theirs_s
    ratio = ours_rate / theirs_rate
    locate_rate = SINGLE_CALLS / single_s
    inside = float(np.mean(ours >= 0))
    print(f"layer: {LAYER_FILE.name}, {len(layer)} zones, loaded and indexed in {load_s:.2f} s")
    print(f"points: {POINTS:,} uniform in the layer's bbox (seed {SEED}), {inside:.1%} inside")
    print(f"locate_many:      {ours_s * 1000:8.1f} ms  {ours_rate:14,.0f} points/s")
    print(f"geopandas.sjoin:  {theirs_s * 1000:8.1f} ms  {theirs_rate:14,.0f} points/s")
    print(f"agreement with geopandas: {agreement:.4%}")
    print(f"single locate():  {locate_rate:14,.0f} calls/s ({SINGLE_CALLS:,} calls, median of 5)")
    ratio_ok = ratio >= TARGET_RATIO
    locate_ok = locate_rate >= TARGET_LOCATE_PER_S
    agree_ok = agreement >= 0.999
    cpu = platform.processor() or platform.machine()
    print()
    print("```")
    print(f"zones benchmark - Québec quartiers ({len(layer)} zones), {POINTS:,} random points")
    print(f"python {platform.python_version()}, {cpu}")
    print(f"locate_many      {ours_rate:>14,.0f} points/s")
    print(f"geopandas.sjoin  {theirs_rate:>14,.0f} points/s")
    print(f"speed-up         {ratio:>14.1f} x   (target >= {TARGET_RATIO:.0f}x: {_ok(ratio_ok)})")
    print(f"locate()         {locate_rate:>14,.0f} calls/s (target >= 200,000: {_ok(locate_ok)})")
    print(f"agreement        {agreement:>14.4%}   (target >= 99.9%: {_ok(agree_ok)})")
    print("```")
    return 0 if ratio_ok and locate_ok and agree_ok else 1


def _ok(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
