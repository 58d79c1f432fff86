"""Long commands draw a progress bar on stderr when it is a terminal (a pseudo-terminal here),
and nothing when it is not: a log or a pipe gets only the summary."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
from pathlib import Path

import pytest

from alerts.demo.run import DEMO_ADDRESSES, DEMO_LAYER
from cli import main
from tests.commands.conftest import cli_workspace
from tests.support.processes import CLI, file_gateway_env

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\r\x07]")
# Variables that would make rich draw, or not, whatever stderr is.
_TERMINAL_OVERRIDES = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI")


def run_with_stderr_on_a_terminal(
    env: dict[str, str], cwd: Path, *args: str
) -> tuple[int, str, str]:
    """Run `cli.py args` with stderr on a 100-column pseudo-terminal; (code, stdout, what the
    terminal showed, escape sequences removed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    shown: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                piece = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end
                return
            if not piece:
                return
            shown.append(piece)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        process = subprocess.Popen(
            [*CLI, *args], env={**env, "TERM": "xterm-256color"}, cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
        )  # fmt: skip
    finally:
        os.close(follower)
    out, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    text = b"".join(shown).decode("utf-8", "replace")
    return process.returncode, out.decode(), _ESCAPES.sub("", text)


def run_without_a_terminal(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a CLI on a fresh SQLite database holding the demo town's zones."""
    env = file_gateway_env(f"sqlite:///{tmp_path / 'bars.db'}", tmp_path)
    for name in _TERMINAL_OVERRIDES:
        env.pop(name, None)
    settings = {name: value for name, value in env.items() if name.startswith("ALERTS_")}
    cli_workspace(monkeypatch, tmp_path, settings.pop("ALERTS_DATABASE_URL"), **settings)
    return env


def _files(folder: Path) -> dict[str, Path]:
    subscribers = folder / "abonnés.csv"
    subscribers.write_bytes(
        "Téléphone;Quartier\n4185550101;Lac-Doré\n4185550102;Saint-Éloi\n".encode("cp1252")
    )
    plan = folder / "plan.csv"
    plan.write_text(
        "kind,start,end,zones\nsnow,2031-12-03 19:00,2031-12-04 07:00,Lac-Doré\n", "utf-8"
    )
    return {"subscribers": subscribers, "plan": plan}


@pytest.mark.parametrize(
    ("command", "drawn", "summary"),
    [
        (["zones", "import", str(DEMO_LAYER), "--replace", "--yes"],
         "zones: re-matching subscriptions", "zone(s) imported"),
        (["addresses", "import", str(DEMO_ADDRESSES)],
         "addresses: storing address points", "address point(s) imported"),
        (["subscribers", "import", "{subscribers}"],
         "import: storing subscribers", "2 subscriber(s) added"),
        (["operations", "import", "{plan}"], "operations: storing operations", "1 added"),
    ],
)  # fmt: skip
def test_imports_draw_a_bar_on_a_terminal_only(
    town: dict[str, str], tmp_path: Path, command: list[str], drawn: str, summary: str
) -> None:
    files = _files(tmp_path)
    args = [part.format(**files) for part in command]
    code, out, terminal = run_with_stderr_on_a_terminal(town, tmp_path, *args)
    assert code == 0, terminal
    assert drawn in terminal
    assert re.search(r"\d+/\d+", terminal)  # done of total
    assert summary in out and drawn not in out  # stdout stays the summary

    code, out, err = run_without_a_terminal(town, tmp_path, *args)
    assert code == 0, err
    # No bar, no escape sequence (warnings, such as no scheduler running, may be said).
    assert drawn.split(":")[0] + ":" not in err and "\x1b" not in err
    assert summary.split()[-1] in out


def test_json_output_draws_no_bar_even_on_a_terminal(town: dict[str, str], tmp_path: Path) -> None:
    files = _files(tmp_path)
    code, out, terminal = run_with_stderr_on_a_terminal(
        town, tmp_path, "subscribers", "import", str(files["subscribers"]), "--json"
    )
    assert code == 0 and '"subscribers_added": 2' in out
    assert "import:" not in terminal


def test_dispatch_still_draws_its_bar(town: dict[str, str], tmp_path: Path) -> None:
    assert main(["subscribers", "add", "4185550101", "--zone", "Lac-Doré"]) == 0
    queued = ["send", "--kind", "info", "--zone", "Lac-Doré", "--message", "Test", "--yes"]
    assert main([*queued, "--queue-only"]) == 0
    code, out, terminal = run_with_stderr_on_a_terminal(town, tmp_path, "dispatch", "--until-idle")
    assert code == 0, terminal
    assert re.search(r"dispatch\b.*1/1", terminal)
    assert "sent 1" in out
