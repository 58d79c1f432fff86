"""Benchmark the CLI's start-up against a bare Typer program's `--help`, side by side.

Run from the repository: python benchmarks/cli_bench.py [--runs N]
Builds a SQLite database in a temporary folder with Québec's neighbourhoods and address
points from ../shared/data/quebec/, then times whole processes, round-robin so that the
machine's noise falls on every command alike:

- the baseline: a two-command Typer program printing its `--help`;
- `alerts --help` (target: within 2x the baseline);
- `alerts zones list --json`, a read command (within 3x);
- `alerts zones locate --address ...`, one address looked up (within 4x).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUEBEC = REPO / ".." / "shared" / "data" / "quebec"
LAYER_FILE = QUEBEC / "vdq-quartier.geojson"
ADDRESS_FILE = QUEBEC / "quebec_address_points.csv"
ADDRESS = "2475 boulevard Laurier"

BARE_TYPER = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def bye() -> None:
    """Say goodbye."""


app()
'''

# name, arguments after the program, target ratio to the baseline
COMMANDS = (
    ("alerts --help", ["--help"], 2.0),
    ("zones list --json", ["zones", "list", "--json"], 3.0),
    ("zones locate --address", ["zones", "locate", "--address", ADDRESS], 4.0),
)


def alerts_program() -> list[str]:
    """The installed `alerts` script beside this Python, else the module run by this Python."""
    script = Path(sys.executable).with_name("alerts")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import cli; cli.run()"]


def seconds(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall time of one whole process (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="Runs of each command.")
    args = parser.parse_args()
    for needed in (LAYER_FILE, ADDRESS_FILE):
        if not needed.exists():
            print(f"missing {needed.resolve()}: the shared data folder is needed", file=sys.stderr)
            return 1
    folder = Path(tempfile.mkdtemp(prefix="alerts-cli-bench-"))
    try:
        return _run(folder, args.runs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, runs: int) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    env["ALERTS_DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    env["PYTHONPATH"] = str(REPO)
    alerts = alerts_program()
    for step in (["zones", "import", str(LAYER_FILE)], ["addresses", "import", str(ADDRESS_FILE)]):
        subprocess.run([*alerts, *step], env=env, cwd=folder, check=True, capture_output=True)
    bare = folder / "bare_typer.py"
    bare.write_text(BARE_TYPER, encoding="utf-8")
    programs = {"bare Typer --help": [sys.executable, str(bare), "--help"]}
    programs.update({name: [*alerts, *arguments] for name, arguments, _ in COMMANDS})
    for command in programs.values():  # warm the file cache and the bytecode
        seconds(command, env, folder)
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(runs):
        for name, command in programs.items():
            times[name].append(seconds(command, env, folder))
    baseline = statistics.median(times["bare Typer --help"])
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{runs} runs each, round-robin; medians")
    print(f"{'bare Typer --help':<26} {baseline * 1000:7.0f} ms  baseline")
    met = True
    for name, _, target in COMMANDS:
        median = statistics.median(times[name])
        ratio = median / baseline
        verdict = "met" if ratio <= target else "MISSED"
        met = met and ratio <= target
        print(
            f"{name:<26} {median * 1000:7.0f} ms  {ratio:4.2f}x the baseline "
            f"(target {target:g}x: {verdict}); {1 / median:5.1f} runs/s"
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
