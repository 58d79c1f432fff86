"""The CLI contract: commands exist, --json prints one document, errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace
from tests.support.processes import clean_env, free_port, run_cli, start_cli, stop


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with its own SQLite database, demo town imported."""
    return cli_workspace(monkeypatch, tmp_path)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_subscriber_lifecycle_through_the_cli(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribers", "add", "418 555-0123", "--zone", "saint eloi", "--lang", "en"]) == 0
    assert main(["subscribers", "add", "4185550123", "--at", "47.0395,-71.3220"]) == 0
    capsys.readouterr()
    shown = run_json(capsys, "subscribers", "show", "+1 418 555 0123", "--json")
    assert shown == {
        "phone": "+14185550123",
        "status": "active",
        "lang": "en",
        "zones": ["Saint-Éloi", "Côte-Blanche"],
        "topics": ["snow", "radar"],
        "error_code": None,
    }
    listed = run_json(capsys, "subscribers", "list", "--json")
    assert listed == [{**shown, "phone": "+1******0123"}]
    assert main(["subscribers", "remove", "4185550123"]) == 0
    capsys.readouterr()
    assert main(["subscribers", "show", "4185550123", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "no subscriber" in captured.err


def test_every_read_command_prints_one_json_document(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["subscribers", "add", "4185550123", "--zone", "Lac-Doré"])
    capsys.readouterr()
    for args in (
        ["subscribers", "list", "--json"],
        ["subscribers", "list", "--zone", "lac dore", "--json"],
        ["subscribers", "show", "4185550123", "--json"],
        ["zones", "list", "--json"],
        ["db", "status", "--json"],
    ):
        assert main([*args]) == 0, args
        json.loads(capsys.readouterr().out)


def test_invalid_phone_is_one_line_and_changes_nothing(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (cli_env / "cli.db").read_bytes()
    assert main(["subscribers", "add", "12345", "--zone", "Lac-Doré"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "phone" in err
    assert main(["subscribers", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert (cli_env / "cli.db").stat().st_size == len(before)


def test_usage_errors_exit_2(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["subscribers", "add", "4185550123"]) == 2
    assert "exactly one of --zone" in capsys.readouterr().err
    assert main(["subscribers", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such command" in err


def test_bad_config_exits_2(cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALERTS_DATABASE_URL", "mysql://root@localhost/x")
    assert main(["subscribers", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "database.url" in err and "ALERTS_DATABASE_URL" in err


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`cli.py args` in `cwd` with only the ALERTS_ settings given here."""
    return run_cli(clean_env(**env), cwd, *args)


@pytest.mark.parametrize(
    ("env", "config", "expected"),
    [
        ({"ALERTS_DATABASE_URL": "sqlite:////nonexistent/dir/a.db"}, None, "folder does not exist"),
        ({"ALERTS_DATABASE_URL": "::nonsense::"}, None, "database.url"),
        ({}, "[database\nurl=1", "not valid TOML"),
        ({}, "[zones]\nsnap_meters = -4\n", "zones.snap_meters"),
    ],
)
def test_bad_settings_in_a_real_process(
    tmp_path: Path, env: dict[str, str], config: str | None, expected: str
) -> None:
    if config is not None:
        (tmp_path / "alerts.toml").write_text(config)
    result = _run(["subscribers", "list"], tmp_path, **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert result.stdout == ""


def _dump(path: Path) -> list[str]:
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_bad_input_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    from alerts.demo.run import DEMO_LAYER

    good = f"sqlite:///{tmp_path / 'a.db'}"
    assert (
        _run(["zones", "import", str(DEMO_LAYER)], tmp_path, ALERTS_DATABASE_URL=good).returncode
        == 0
    )
    add = ["subscribers", "add", "4185550123", "--zone", "Lac-Doré"]
    assert _run(add, tmp_path, ALERTS_DATABASE_URL=good).returncode == 0
    before = _dump(tmp_path / "a.db")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello")
    attempts = [
        (
            ["subscribers", "add", "4185550199", "--zone", "Lac-Doré"],
            {"ALERTS_DATABASE_URL": "sqlite://x/y"},
        ),
        (
            ["subscribers", "add", "4185550199", "--zone", "Lac-Doré"],
            {"ALERTS_DATABASE_URL": f"sqlite:///{not_a_db}"},
        ),
        (
            ["subscribers", "add", "not-a-phone", "--zone", "Lac-Doré"],
            {"ALERTS_DATABASE_URL": good},
        ),
        (["subscribers", "add", "4185550199", "--zone", "Atlantis"], {"ALERTS_DATABASE_URL": good}),
    ]
    for args, env in attempts:
        result = _run(args, tmp_path, **env)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    (tmp_path / "alerts.toml").write_text("[database]\nurl = ")
    result = _run(add, tmp_path, ALERTS_DATABASE_URL=good)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert _dump(tmp_path / "a.db") == before
    assert not_a_db.read_text() == "hello"


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("db", "subscribers", "zones", "demo"):
        assert command in result.stdout


def _installed(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The `alerts` console script the install put beside this Python, as a newcomer runs it:
    outside the repository, so it imports the installed package and its data files."""
    script = Path(sys.executable).parent / "alerts"
    if not script.exists():
        return _run(args, cwd)  # not installed (tests run from a bare source tree)
    env = clean_env()
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_demo_runs_in_a_folder_of_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = _installed(["demo", "--dir", str(folder)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (folder / "alerts.db").is_file()
    assert "Val-Givré" in result.stdout
    for step in ("by text message", "snow-removal alert", "clock sends", "public page"):
        assert step in result.stdout, step
    assert "SMS to +1******0110" in result.stderr  # the console gateway's messages
    again = _installed(["demo", "--dir", str(folder)], tmp_path)
    assert again.returncode == 2 and "not empty" in again.stderr
    _the_printed_address_shows_the_town(folder, result.stdout, tmp_path)


def _the_printed_address_shows_the_town(folder: Path, printed: str, cwd: Path) -> None:
    """The newcomer runs the `alerts --config ... serve` line the demo printed."""
    import shlex
    import time

    import httpx2

    line = next(text for text in printed.splitlines() if "serve" in text and "--config" in text)
    args = shlex.split(line.split("run:", 1)[1])[1:]  # drop the leading "alerts"
    port = free_port()
    server = start_cli(clean_env(), cwd, *args, "--port", str(port))
    try:
        page = ""
        for _ in range(100):
            try:
                page = httpx2.get(f"http://127.0.0.1:{port}/", timeout=2).text
                break
            except httpx2.TransportError:
                time.sleep(0.2)
        assert "Lac-Doré" in page and "Côte-Blanche" in page and "Déneigement" in page
        assert "418 555-0100" in page  # the number to text, beside the keyword
        for digits in ("5550101", "5550103", "5550110", "5550111"):
            assert digits not in page  # no subscriber's number on a public page
    finally:
        stop(server)


def test_sms_receive_runs_the_webhook_handler(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.demo.run import DEMO_ADDRESSES

    assert main(["addresses", "import", str(DEMO_ADDRESSES)]) == 0
    capsys.readouterr()
    args = ["sms", "receive", "--from", "418 555 0123", "--sid", "SM1", "--json"]
    assert main([*args, "abonner", "1090", "ch.", "du", "Lac-Doré"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["action"] == "confirm_requested" and "Lac-Doré" in first["reply"]
    assert main([*args, "abonner", "1090", "ch.", "du", "Lac-Doré"]) == 0  # same sid: no change
    assert json.loads(capsys.readouterr().out) == first
    batch = cli_env / "in.jsonl"
    batch.write_text(
        '{"from": "4185550123", "body": "OUI", "sid": "SM2"}\n'
        "not json\n"
        '{"from": "4185550123", "body": "quartiers", "sid": "SM3"}\n'
    )
    assert main(["sms", "receive", "--batch", str(batch)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["action"] for line in lines] == ["subscribed", "error", "list"]
    assert main(["subscribers", "show", "4185550123", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["zones"] == ["Lac-Doré"]
    assert main(["sms", "receive", "--from", "4185550123"]) == 2
