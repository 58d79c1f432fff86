"""`alerts subscribers forget PHONE` asks first: on a terminal the operator answers, without
one it refuses (exit 2, naming --yes) and changes nothing; --yes forgets at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from tests.commands.conftest import cli_workspace
from tests.support.processes import answer_on_terminal, clean_env

PHONE = "4185550101"


@pytest.fixture
def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with its own SQLite database, demo zones and one subscriber."""
    cli_workspace(monkeypatch, tmp_path)
    assert main(["subscribers", "add", PHONE, "--zone", "Lac-Doré"]) == 0
    return tmp_path


def status(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["subscribers", "show", PHONE, "--json"]) == 0
    shown: dict[str, str] = json.loads(capsys.readouterr().out)
    return shown["status"]


def test_without_a_terminal_and_without_yes_it_refuses(
    town: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["subscribers", "forget", PHONE]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "--yes" in captured.err and "+1******0101" in captured.err
    assert PHONE not in captured.err
    assert status(capsys) == "active"
    # A number that is not one is refused before any question.
    assert main(["subscribers", "forget", "12345"]) == 1
    assert "not a valid phone number" in capsys.readouterr().err


def test_yes_forgets_at_once(town: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["subscribers", "forget", PHONE, "--yes"]) == 0
    assert "data deleted" in capsys.readouterr().out
    assert status(capsys) == "opted_out"


@pytest.mark.parametrize(
    ("answer", "code", "after"), [(b"n\n", 1, "active"), (b"y\n", 0, "opted_out")]
)
def test_on_a_terminal_the_operator_is_asked(
    town: Path, capsys: pytest.CaptureFixture[str], answer: bytes, code: int, after: str
) -> None:
    env = clean_env(ALERTS_DATABASE_URL=f"sqlite:///{town / 'cli.db'}")
    asked = answer_on_terminal(env, town, answer, "subscribers", "forget", PHONE)
    err = asked.stderr
    assert asked.returncode == code, err
    assert "Forget +1******0101" in err and "for good" in err
    assert status(capsys) == after
