"""`alerts db backup` and `alerts db restore` through the CLI: the copy opens with every
command, and a restore waits for a real `alerts serve` to stop and keeps what it replaces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerts.storage import db
from cli import main
from tests.commands.conftest import cli_workspace
from tests.support.processes import clean_env, start_serve, stop_or_kill, wait_until

ZONE = "Saint-Éloi"


class Cli:
    """The CLI run in this process, in the test's folder (stdin is no terminal here)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        """Exit code, stdout and stderr of `alerts args`."""
        self._capsys.readouterr()
        code = main(list(args))
        captured = self._capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *args: str) -> Any:
        """The JSON document `alerts args --json` prints, which must succeed."""
        code, out, err = self.run(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The demo town in tmp_path/alerts.db, two subscribers (the second opted out) and a
    third number that texted STOP."""
    cli_workspace(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'alerts.db'}",
                  file_gateway="outbox.jsonl")  # fmt: skip
    runner = Cli(capsys)
    for args in [
        ("subscribers", "add", "4185550101", "--zone", ZONE),
        ("subscribers", "add", "4185550102", "--zone", ZONE, "--lang", "en"),
        ("sms", "receive", "--from", "4185550102", "STOP"),
        ("sms", "receive", "--from", "4185550199", "STOP"),
    ]:
        code, _, err = runner.run(*args)
        assert code == 0, err
    return runner


def test_the_copy_opens_with_every_command(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied = cli.json("db", "backup", "copy.db")
    assert copied["subscribers"] == 2 and copied["suppressions"] == 2
    assert copied["revision"] == db.head_revision() and copied["bytes"] > 0
    subscribers = cli.json("subscribers", "list")

    monkeypatch.setenv("ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    assert cli.json("subscribers", "list") == subscribers and len(subscribers) == 2
    status = cli.json("db", "status")
    assert status["current"] == status["head"] == db.head_revision()
    assert any(zone["name"] == ZONE for zone in cli.json("zones", "list"))

    monkeypatch.setenv("ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'alerts.db'}")
    assert cli.run("db", "backup", "copy.db") == (
        1,
        "",
        "error: backup: copy.db exists: give another path, or --force\n",
    )


def test_a_restore_waits_for_the_service_to_stop_and_keeps_the_database(
    cli: Cli, tmp_path: Path
) -> None:
    cli.json("db", "backup", "copy.db")
    assert cli.run("subscribers", "add", "4185550103", "--zone", ZONE)[0] == 0

    serve = start_serve(clean_env(), tmp_path, "serve.log")  # this test's ALERTS_ settings
    lock = tmp_path / "alerts.db.serve.lock"
    try:
        running = wait_until(lambda: lock.exists() and lock.read_text().strip(), 60)
        assert running, (tmp_path / "serve.log").read_text()
        assert cli.json("db", "backup", "live.db")["subscribers"] == 3  # while it runs
        code, _, err = cli.run("db", "restore", "copy.db", "--yes")
        assert (code, err) == (
            1,
            f"error: restore: `alerts serve` (pid {serve.pid}) is using "
            f"{tmp_path / 'alerts.db'}: stop it first\n",
        )
    finally:
        stop_or_kill(serve)
    assert len(cli.json("subscribers", "list")) == 3

    code, _, err = cli.run("db", "restore", "copy.db")
    assert code == 2 and err.endswith("Confirm with --yes\n")
    assert "(3 subscriber(s), 2 suppression(s), 0 alert(s), schema" in err

    report = cli.json("db", "restore", "copy.db", "--yes")
    assert report["restored"]["subscribers"] == 2
    kept = Path(report["kept"])
    assert kept.parent == tmp_path and kept.name.startswith("alerts.db.before-restore-")
    assert len(cli.json("subscribers", "list")) == 2
    code, out, _ = cli.run("db", "restore", report["kept"], "--yes")
    assert code == 0 and "Restored 3 subscriber(s), 2 suppression(s)" in out
    assert len(cli.json("subscribers", "list")) == 3
