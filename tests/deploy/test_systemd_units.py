"""deploy/systemd: the service unit, the extra workers' template unit, the user and the
credentials file, checked by systemd's own tools and by running their commands.

`systemd-analyze verify` loads each unit as systemd would and checks that its ExecStart
binary exists and is executable. The units name /opt/alerts/venv/bin/alerts, which a test
machine does not have (and a test must not create), so each unit is verified as a copy in a
temporary folder whose ExecStart points at this environment's own `alerts` script, every
other line unchanged. (`--root` does not help: the unit's dependencies, sysinit.target and
the rest, would have to be laid out under that root too.) systemd-analyze exits 0 after an
unknown key or a value it cannot parse, only warning on stderr, so any output is a failure
here. Skipped where systemd-analyze is missing, unless ALERTS_REQUIRE_SYSTEMD=1 (CI).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from alerts.clock.heartbeats import workers_alive
from alerts.config import Settings
from alerts.wiring import build
from tests.support.paths import REPO
from tests.support.processes import clean_env, free_port, stop, wait_until

SYSTEMD = REPO / "deploy" / "systemd"
SERVICE, WORKER = SYSTEMD / "alerts.service", SYSTEMD / "alerts-worker@.service"
BACKUP, BACKUP_TIMER = SYSTEMD / "alerts-backup.service", SYSTEMD / "alerts-backup.timer"
DAEMONS = (SERVICE, WORKER)  # run until stopped
SERVICES = (SERVICE, WORKER, BACKUP)
UNITS = (*SERVICES, BACKUP_TIMER)
INSTALLED_ALERTS = "/opt/alerts/venv/bin/alerts"
INSTALLED_CONFIG = "/etc/alerts/alerts.toml"
# The `alerts` console script of this environment: what the units run, once installed.
ALERTS = Path(sys.executable).with_name("alerts")

Unit = dict[str, list[tuple[str, str]]]


def read_unit(path: Path) -> Unit:
    """A unit file's sections, each a list of (key, value) in order (keys may repeat)."""
    unit: Unit = {}
    section: list[tuple[str, str]] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], [])
            continue
        assert section is not None, f"{path.name}: a setting before any section: {line}"
        assert not line.endswith("\\"), f"{path.name}: keep each setting on one line"
        key, _, value = line.partition("=")
        section.append((key.strip(), value.strip()))
    return unit


def setting(unit: Unit, section: str, key: str) -> str:
    """The value systemd uses for a key given once (the last one, as systemd reads it)."""
    values = [value for name, value in unit.get(section, []) if name == key]
    assert values, f"no {key}= in [{section}]"
    return values[-1]


def exec_start(unit: Unit) -> list[str]:
    """The ExecStart command line, split as systemd splits it (no shell, no variables)."""
    return shlex.split(setting(unit, "Service", "ExecStart"))


def systemd_tool(name: str) -> str:
    """The path of a systemd tool; skipped (or failed with ALERTS_REQUIRE_SYSTEMD=1) without."""
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (it comes with systemd)"
        if os.environ.get("ALERTS_REQUIRE_SYSTEMD") == "1":
            pytest.fail(f"ALERTS_REQUIRE_SYSTEMD=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return found


def alerts_script() -> Path:
    if not os.access(ALERTS, os.X_OK):
        pytest.fail(f"no `alerts` script beside {sys.executable}: pip install the project")
    return ALERTS


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_systemd_analyze_verify_passes_without_a_warning(path: Path, tmp_path: Path) -> None:
    analyze = systemd_tool("systemd-analyze")
    for unit in UNITS:  # side by side, as installed: the timer finds its service
        text = unit.read_text(encoding="utf-8")
        assert text.count(INSTALLED_ALERTS) == (unit in SERVICES)
        copy = tmp_path / unit.name
        copy.write_text(text.replace(INSTALLED_ALERTS, str(alerts_script())), encoding="utf-8")
    # A template is verified as such (as instance "i").
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / path.name)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key, a bad value, a missing binary all show."""
    analyze = systemd_tool("systemd-analyze")
    broken = tmp_path / "alerts.service"
    text = SERVICE.read_text(encoding="utf-8")
    broken.write_text(
        text.replace("ProtectSystem=strict", "ProtectSystem=stricter").replace(
            "NoNewPrivileges=", "NoNewPrivilege="
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "stricter" in result.stderr
    assert "NoNewPrivilege" in result.stderr
    assert INSTALLED_ALERTS in result.stderr and result.returncode != 0


HARDENING = {
    "User": "alerts",
    "Group": "alerts",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ReadWritePaths": "/var/lib/alerts",
    "StateDirectoryMode": "0700",
    "UMask": "0077",
    "WorkingDirectory": "/var/lib/alerts",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "ProtectKernelTunables": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "SystemCallArchitectures": "native",
}


@pytest.mark.parametrize("path", SERVICES, ids=lambda path: path.name)
def test_every_service_runs_as_its_own_user_hardened(path: Path) -> None:
    unit = read_unit(path)
    assert {key: setting(unit, "Service", key) for key in HARDENING} == HARDENING
    filters = [value for key, value in unit["Service"] if key == "SystemCallFilter"]
    assert filters == ["@system-service", "~@privileged @resources"]
    assert "alerts" in setting(unit, "Service", "StateDirectory").split()
    command = exec_start(unit)
    assert command[:3] == [INSTALLED_ALERTS, "--config", INSTALLED_CONFIG]


@pytest.mark.parametrize("path", DAEMONS, ids=lambda path: path.name)
def test_the_daemons_restart_on_failure_and_stop_gracefully(path: Path) -> None:
    unit = read_unit(path)
    expected = {
        "Type": "exec",
        "EnvironmentFile": "/etc/alerts/alerts.env",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "2",  # a configuration error: restarting fails again
        "KillSignal": "SIGTERM",
        "StateDirectory": "alerts",
    }
    assert {key: setting(unit, "Service", key) for key in expected} == expected
    # In-flight sends get their answer (twilio.timeout_seconds, 10 s) and the roles are
    # joined within 30 s each: the stop timeout leaves room for both.
    assert int(setting(unit, "Service", "TimeoutStopSec")) >= 60
    assert setting(unit, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in setting(unit, "Unit", "After")
    assert exec_start(unit)[3] == "serve"


def test_the_service_plays_every_role_and_the_template_only_dispatches() -> None:
    assert exec_start(read_unit(SERVICE))[3:] == ["serve", "--host", "127.0.0.1", "--port", "8000"]
    assert exec_start(read_unit(WORKER))[3:] == [
        "serve", "--no-web", "--no-scheduler", "--workers", "1",
    ]  # fmt: skip
    worker = read_unit(WORKER)
    assert setting(worker, "Unit", "PartOf") == "alerts.service"
    assert "%i" in setting(worker, "Unit", "Description")


def _unit_command(path: Path, config: Path, **replace: str) -> list[str]:
    """The unit's ExecStart with this environment's `alerts`, a test config, and some
    arguments replaced (a free port for 8000)."""
    command = exec_start(read_unit(path))
    command[0] = str(alerts_script())
    command[command.index(INSTALLED_CONFIG)] = str(config)
    return [replace.get(argument, argument) for argument in command]


def _config(tmp_path: Path, **extra: str) -> Path:
    """An alerts.toml for a SQLite database and the file gateway in tmp_path."""
    config = tmp_path / "alerts.toml"
    lines = [
        "[database]",
        f'url = "sqlite:///{tmp_path / "alerts.db"}"',
        "[gateway]",
        'kind = "file"',
        f'file_path = "{tmp_path / "outbox.jsonl"}"',
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _database_settings(tmp_path: Path) -> Settings:
    """Settings on the database _config names, for the test's own look at the heartbeats."""
    return Settings().with_overrides(**{"database.url": f"sqlite:///{tmp_path / 'alerts.db'}"})


def test_the_service_command_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """systemd's stop is a SIGTERM: the web server ends, then the roles stop (a worker's
    heartbeat goes only on that clean stop) and the process exits 0."""
    port = free_port()
    command = _unit_command(SERVICE, _config(tmp_path), **{"8000": str(port)})
    env = clean_env(("ALERTS_", "TWILIO_"))

    def healthy() -> bool:
        try:
            return httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    services = build(_database_settings(tmp_path))  # the database exists, migrated
    try:
        with (tmp_path / "serve.log").open("wb") as log:
            server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        try:
            assert wait_until(lambda: server.poll() is not None or healthy(), 60), "no /health"
            assert healthy(), (tmp_path / "serve.log").read_text()
            assert wait_until(lambda: workers_alive(services), 30)
        finally:
            stop(server, timeout=60)  # TimeoutStopSec is 90
        assert server.returncode == 0, (tmp_path / "serve.log").read_text()
        assert not workers_alive(services), "the roles were not stopped"
    finally:
        services.close()


def test_the_worker_command_dispatches_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = _config(tmp_path)
    env = clean_env(("ALERTS_", "TWILIO_"))
    services = build(_database_settings(tmp_path))  # the database exists, migrated
    try:
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                _unit_command(WORKER, config), env=env, cwd=tmp_path, stdout=log, stderr=log
            )
        try:
            assert wait_until(lambda: worker.poll() is not None or workers_alive(services), 60)
            assert workers_alive(services), (tmp_path / "worker.log").read_text()
        finally:
            stop(worker, timeout=60)
        assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
        assert not workers_alive(services), "the worker did not stop cleanly"
    finally:
        services.close()


@pytest.mark.parametrize("path", DAEMONS, ids=lambda path: path.name)
def test_a_configuration_error_exits_2_which_the_units_do_not_restart(
    path: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, **{"[dispatch]\nrate_per_second": "-1"})
    env = clean_env(("ALERTS_", "TWILIO_"))
    ended = subprocess.run(
        _unit_command(path, config, **{"8000": str(free_port())}),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ended.returncode == 2, ended.stderr
    assert len(ended.stderr.strip().splitlines()) == 1, ended.stderr
    assert "dispatch.rate_per_second" in ended.stderr
    assert setting(read_unit(path), "Service", "RestartPreventExitStatus") == "2"


def test_the_backup_unit_copies_the_database_and_prunes_old_copies_only(tmp_path: Path) -> None:
    unit = read_unit(BACKUP)
    assert setting(unit, "Service", "Type") == "oneshot"
    assert setting(unit, "Service", "StateDirectory").split() == ["alerts", "alerts/backups"]
    backups = tmp_path / "backups"  # StateDirectory makes it
    backups.mkdir()
    installed = "/var/lib/alerts/backups"
    services = build(_database_settings(tmp_path))
    try:
        command = [backups if part == installed else part for part in exec_start(unit)]
        command = [str(part) for part in command]
        command[0], command[2] = str(alerts_script()), str(_config(tmp_path))
        old = backups / "alerts-20200101T033000Z.db"
        old.write_bytes(b"an old copy")
        other = backups / "notes.txt"
        other.write_text("not a backup")
        month_and_a_half = time.time() - 45 * 86400
        for stale in (old, other):
            os.utime(stale, (month_and_a_half, month_and_a_half))
        env = clean_env(("ALERTS_", "TWILIO_"))
        done = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        prune = shlex.split(
            setting(unit, "Service", "ExecStartPost").replace(installed, str(backups))
        )
        pruned = subprocess.run(prune, capture_output=True, text=True, timeout=60)
        assert pruned.returncode == 0, pruned.stderr
    finally:
        services.close()
    (copy,) = [path for path in backups.iterdir() if path.name.startswith("alerts-")]
    assert copy != old and copy.suffix == ".db"  # a fresh timestamped copy; the old one went
    assert other.exists()  # only the backups' own files are pruned
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA quick_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM suppression").fetchone() == (0,)
    timer = read_unit(BACKUP_TIMER)
    assert setting(timer, "Timer", "Persistent") == "true"  # a night missed is made up
    assert setting(timer, "Install", "WantedBy") == "timers.target"


def test_sysusers_creates_the_service_user_without_a_login(tmp_path: Path) -> None:
    sysusers = systemd_tool("systemd-sysusers")
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("passwd", "group", "shadow", "gshadow"):
        (etc / name).touch()
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", str(SYSTEMD / "alerts.sysusers.conf")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (user,) = (etc / "passwd").read_text().splitlines()
    name, _, uid, gid, _, home, shell = user.split(":")
    assert (name, home, shell) == ("alerts", "/var/lib/alerts", "/usr/sbin/nologin")
    assert int(uid) < 1000  # a system user
    assert (etc / "group").read_text().startswith(f"alerts:x:{gid}:")


def test_the_environment_file_example_holds_only_placeholders() -> None:
    lines = (SYSTEMD / "alerts.env.example").read_text(encoding="utf-8").splitlines()
    assignments = dict(
        line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")
    )
    assert set(assignments) == {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"}
    # Placeholders, never a real-looking SID (AC + 32 hex digits) or token (32 hex digits).
    assert not re.fullmatch(r"AC[0-9a-f]{32}", assignments["TWILIO_ACCOUNT_SID"])
    assert not re.fullmatch(r"[0-9a-f]{32}", assignments["TWILIO_AUTH_TOKEN"])
    assert any("0600" in line for line in lines)  # how to install it says its mode
