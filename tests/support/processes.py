"""Real processes: the repository's `cli.py` run or started in a subprocess, `alerts serve`
started and stopped, waiting for something to become true, and free local ports."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

CLI = (sys.executable, str(REPO / "cli.py"))  # `alerts`, as the repository's cli.py

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def clean_env(drop: tuple[str, ...] = ("ALERTS_",), **variables: str) -> dict[str, str]:
    """This process's environment without the variables whose names start with `drop` and
    without a developer's outbound proxy, plus `variables`: a child process reads only the
    settings the test gives it, and reaches the local servers directly."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and k.lower() not in _PROXY_VARIABLES
    }
    env.update(variables)
    return env


def file_gateway_env(database_url: str, folder: Path) -> dict[str, str]:
    """The environment of a CLI on `database_url` writing its messages to folder/outbox.jsonl."""
    return clean_env(
        ALERTS_DATABASE_URL=database_url,
        ALERTS_GATEWAY="file",
        ALERTS_GATEWAY_FILE=str(folder / "outbox.jsonl"),
        ALERTS_DISPATCH_RATE="100",
    )


def run_cli(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `cli.py args` in `cwd` to its end, its output captured as text."""
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def start_cli(
    env: dict[str, str], cwd: Path, *args: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `cli.py args` in `cwd`, its output appended to `log` (dropped without one)."""
    if log is None:
        return subprocess.Popen(
            [*CLI, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    with log.open("ab") as handle:
        return subprocess.Popen(
            [*CLI, *args], env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT
        )


def start_serve(env: dict[str, str], folder: Path, log_name: str) -> subprocess.Popen[bytes]:
    """Start `alerts serve --no-web` (the clock and the dispatcher) in `folder`, its output
    appended to folder/log_name."""
    return start_cli(env, folder, "serve", "--no-web", log=folder / log_name)


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then wait: a process still running after `timeout` is killed, and the
    TimeoutExpired raised (stopping cleanly is part of what the test checks)."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def stop_or_kill(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if still running after `timeout` (how it stops is not tested)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        stop(process, timeout)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Whether `predicate()` became true within `timeout` seconds, asked every `interval`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answer_on_terminal(
    env: dict[str, str], cwd: Path, answer: bytes, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run `cli.py args` with a pseudo-terminal as stdin, typing `answer` at its prompt."""
    terminal, stdin = pty.openpty()
    try:
        asked = subprocess.Popen(
            [*CLI, *args], env=env, cwd=cwd, stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        os.close(stdin)
        os.write(terminal, answer)
        out, err = asked.communicate(timeout=120)
    finally:
        os.close(terminal)
    return subprocess.CompletedProcess(asked.args, asked.returncode, out, err)
