"""The `alerts` program itself: version, shell completion, and a quick exit that loses nothing."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from alerts.demo.run import DEMO_LAYER
from tests.support.processes import clean_env, run_cli


def test_version_is_the_installed_distributions(tmp_path: Path) -> None:
    shown = run_cli(clean_env(), tmp_path, "--version")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout == f"alerts {version('neighbourhood-alerts')}\n"


def test_shell_completion_completes_commands_and_prints_its_script(tmp_path: Path) -> None:
    env = clean_env(_ALERTS_COMPLETE="complete_bash", COMP_WORDS="alerts templ", COMP_CWORD="1")
    completed = run_cli(env, tmp_path)
    assert completed.returncode == 0
    assert completed.stdout.split() == ["templates"]
    env = clean_env(_ALERTS_COMPLETE="complete_bash", COMP_WORDS="alerts zones ", COMP_CWORD="2")
    assert {"import", "list", "locate"} <= set(run_cli(env, tmp_path).stdout.split())
    script = run_cli(clean_env(), tmp_path, "--show-completion", "bash")
    assert script.returncode == 0 and "_ALERTS_COMPLETE=complete_bash" in script.stdout
    assert "--install-completion" in run_cli(clean_env(), tmp_path, "--help").stdout


def test_the_quick_exit_keeps_every_byte_and_the_exit_code(tmp_path: Path) -> None:
    env = clean_env(ALERTS_DATABASE_URL=f"sqlite:///{tmp_path / 'entry.db'}")
    assert run_cli(env, tmp_path, "zones", "import", str(DEMO_LAYER)).returncode == 0
    listed = run_cli(env, tmp_path, "zones", "list", "--json")
    assert listed.returncode == 0
    assert len(json.loads(listed.stdout)) == 10  # the whole document reached the pipe
    unknown = run_cli(env, tmp_path, "zones", "locate", "--address", "Atlantis", "--json")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
    usage = run_cli(env, tmp_path, "history", "--limit", "0")
    assert usage.returncode == 2 and usage.stdout == ""
