"""`alerts serve` through the real CLI: with the twilio gateway, no webhooks without the public
address Twilio signs for."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from tests.support.processes import clean_env, free_port, run_cli, start_cli, stop, wait_until
from tests.support.webhooks import TOKEN

TWILIO = {
    "ALERTS_GATEWAY": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": TOKEN,
    "ALERTS_TWILIO_FROM": "+14185550100",
    "ALERTS_TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # never called: nothing is sent
}


def _env(tmp_path: Path, **variables: str) -> dict[str, str]:
    database = f"sqlite:///{tmp_path / 'serve.db'}"
    return clean_env(("ALERTS_", "TWILIO_"), ALERTS_DATABASE_URL=database, **variables)


@pytest.mark.parametrize("public_url", [None, ""])
def test_the_twilio_gateway_without_a_public_address_does_not_serve(
    tmp_path: Path, public_url: str | None
) -> None:
    extra = {} if public_url is None else {"ALERTS_PUBLIC_URL": public_url}
    env = _env(tmp_path, **TWILIO, **extra)
    try:
        ended = run_cli(env, tmp_path, "serve", "--port", str(free_port()), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("alerts serve started without service.public_url")
    assert ended.returncode == 2, ended.stderr
    lines = ended.stderr.strip().splitlines()
    assert len(lines) == 1, ended.stderr
    assert "service.public_url" in lines[0] and "ALERTS_PUBLIC_URL" in lines[0]
    assert ended.stdout == ""
    assert not (tmp_path / "serve.db").exists()  # refused before touching anything


def _serves_health(tmp_path: Path, env: dict[str, str]) -> bool:
    port = free_port()
    server = start_cli(env, tmp_path, "serve", "--port", str(port), "--workers", "0",
                       log=tmp_path / "serve.log")  # fmt: skip

    def healthy() -> bool:
        try:
            return httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    try:
        return wait_until(lambda: server.poll() is not None or healthy(), 60) and healthy()
    finally:
        stop(server, timeout=20)


def test_the_twilio_gateway_serves_with_its_public_address(tmp_path: Path) -> None:
    env = _env(tmp_path, **TWILIO, ALERTS_PUBLIC_URL="https://alerts.example.org")
    assert _serves_health(tmp_path, env), (tmp_path / "serve.log").read_text()


def test_the_file_gateway_may_serve_without_a_public_address(tmp_path: Path) -> None:
    env = _env(tmp_path, ALERTS_GATEWAY="file", ALERTS_GATEWAY_FILE=str(tmp_path / "out.jsonl"))
    assert _serves_health(tmp_path, env), (tmp_path / "serve.log").read_text()


def test_the_twilio_gateway_may_run_workers_without_a_public_address(tmp_path: Path) -> None:
    # No web, no webhooks: the scheduler and the dispatcher need no public address.
    env = _env(tmp_path, **TWILIO)
    log = tmp_path / "serve.log"
    server = start_cli(env, tmp_path, "serve", "--no-web", "--workers", "0", log=log)
    try:
        started = wait_until(lambda: log.exists() and "alerts serve:" in log.read_text(), 60)
        time.sleep(0.5)
        assert started and server.poll() is None, log.read_text()
    finally:
        stop(server, timeout=20)
