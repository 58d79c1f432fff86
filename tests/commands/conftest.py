"""The working folder of CLI commands run in the test's own process (`cli.main`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cli import main

# The dispatcher looks for queued messages every 50 ms: a test waits on it no longer.
QUICK_POLL = "[dispatch]\npoll_seconds = 0.05\n"


def cli_workspace(
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    database_url: str | None = None,
    *,
    file_gateway: str | None = None,
    quick_dispatch: bool = False,
    config: str | None = None,
    demo_town: bool = True,
    drop: tuple[str, ...] = ("ALERTS_",),
    **env: str,
) -> Path:
    """Make `folder` the working folder of the CLI, reading only the settings given here.

    Every variable whose name starts with `drop` goes (ALERTS_REQUIRE_* stay: they are the
    test run's, not the CLI's); the database is `database_url`, by default a SQLite file
    folder/cli.db. `file_gateway` names the file in `folder` the file gateway writes the
    messages to (None keeps the default gateway); `quick_dispatch` sends 10,000 a second and
    polls every 50 ms (QUICK_POLL); `config` is the text of folder/alerts.toml (by default
    QUICK_POLL with `quick_dispatch`, else no file); `env` are more variables, set last.
    With `demo_town` the demo town's zones are imported. Returns `folder`."""
    monkeypatch.chdir(folder)
    for name in list(os.environ):
        if name.startswith(drop) and not name.startswith("ALERTS_REQUIRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALERTS_DATABASE_URL", database_url or f"sqlite:///{folder / 'cli.db'}")
    if file_gateway is not None:
        monkeypatch.setenv("ALERTS_GATEWAY", "file")
        monkeypatch.setenv("ALERTS_GATEWAY_FILE", str(folder / file_gateway))
    if quick_dispatch:
        monkeypatch.setenv("ALERTS_DISPATCH_RATE", "10000")
        config = QUICK_POLL if config is None else config
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config is not None:
        (folder / "alerts.toml").write_text(config)
    if demo_town:
        from alerts.demo.run import DEMO_LAYER

        assert main(["zones", "import", str(DEMO_LAYER)]) == 0
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`alerts ARGS` in this process: its stdout, the command having succeeded."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """`alerts ARGS --json` in this process: its one JSON document."""
    return json.loads(run(capsys, *args, "--json"))
