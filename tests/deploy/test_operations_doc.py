"""docs/operations.md stays true to what ships: the files it names exist, the commands it
shows are ones the CLI has, the settings and variables it names are read by the service,
its alert table is the rules file's, and its sending times follow from the rates it gives."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from alerts.config import ENV_KEYS, Settings
from cli import main
from tests.support.paths import REPO

DOC = REPO / "docs" / "operations.md"
RULES = REPO / "deploy" / "prometheus" / "alerts.rules.yml"
TEXT = DOC.read_text(encoding="utf-8")
_CODE_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
# Variables the service reads through others than ENV_KEYS (libpq's) or that name the rest.
OTHER_VARIABLES = {"PGPASSWORD", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}


def _shell_lines() -> list[str]:
    """The commands of the doc's sh blocks, continuation lines joined, comments dropped."""
    lines = []
    for language, block in _CODE_BLOCK.findall(TEXT):
        if language != "sh":
            continue
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _alerts_commands() -> list[list[str]]:
    """Each `alerts ...` command of the doc (through the operators' wrapper or the venv's
    script), as its words up to the first option or argument."""
    commands = []
    for line in _shell_lines():
        words = shlex.split(line)
        while words and "=" in words[0]:  # VARIABLE=value before the command
            words = words[1:]
        if not words or words[0] not in ("alerts", "/opt/alerts/venv/bin/alerts"):
            continue
        path = []
        for word in words[1:]:
            if word.startswith("-") or "/" in word or "." in word:
                break
            path.append(word)
        commands.append(path)
    return commands


def test_the_files_it_names_exist() -> None:
    named = set(re.findall(r"(?<![\w/])((?:deploy|docs)/[\w@./-]+\w)", TEXT))
    named |= {f"deploy/{path}" for path in re.findall(r"\]\(\.\./deploy/([\w@./-]+\w)\)", TEXT)}
    assert "deploy/systemd/alerts.service" in named
    assert {path for path in named if not (REPO / path).exists()} == set()


def test_the_commands_it_shows_are_the_cli_s(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _alerts_commands()
    assert ["db", "backup"] in commands and ["db", "restore"] in commands
    assert ["db", "upgrade"] in commands
    for path in commands:
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert f"alerts {' '.join(path)}" in out, path


def test_the_settings_it_names_are_read_by_the_service() -> None:
    sections = Settings.model_fields
    named = set(re.findall(r"`([a-z]+)\.([a-z_]+)`", TEXT))
    named = {(section, key) for section, key in named if section in sections}
    assert ("dispatch", "rate_per_second") in named and ("log", "format") in named
    for section, key in named:
        assert key in sections[section].annotation.model_fields, f"{section}.{key}"  # type: ignore[union-attr]


def test_the_variables_it_names_are_read_by_the_service() -> None:
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})(?:=[^`]*)?`", TEXT))
    named = {
        name for name in named if name.startswith(("ALERTS_", "TWILIO_", "PG")) or "PROXY" in name
    }
    assert {"ALERTS_PUBLIC_URL", "ALERTS_LOG_LEVEL", "TWILIO_AUTH_TOKEN"} <= named
    assert named - set(ENV_KEYS) - OTHER_VARIABLES == set()


def test_its_alert_table_is_the_rules_file_s() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    table = set(re.findall(r"^\| `(Alerts\w+)` \|", TEXT, re.MULTILINE))
    assert table == names


def _seconds(shown: str) -> int:
    """`11 h 7 min` or `6 min 40 s` in seconds."""
    units = {"h": 3600, "min": 60, "s": 1}
    return sum(int(n) * units[unit] for n, unit in re.findall(r"(\d+) (h|min|s)\b", shown))


def test_its_sending_times_follow_from_the_rates() -> None:
    segments = 20_000 * 2
    for rate, shown in ((1, "11 h 7 min"), (3, "3 h 42 min"), (100, "6 min 40 s")):
        assert f"| {shown} |" in TEXT
        assert abs(_seconds(shown) - segments / rate) < 60  # to the minute shown
    assert _seconds("6 min 40 s") == segments / 100
    assert "40,000 / 7,200 s, about 5.6 segments a second" in TEXT
    assert round(segments / 7200, 1) == 5.6
