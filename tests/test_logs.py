"""The log lines of `alerts serve`: log.level and log.format, JSON objects from every logger
(ours, uvicorn's, APScheduler's) of a live process, and phone numbers masked in both formats."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest

from alerts.config import LogSettings, load_settings
from alerts.errors import ConfigError
from alerts.logs import JsonLines, MaskedText, formatter_for
from tests.support.processes import clean_env, free_port, start_cli, stop, wait_until
from tests.support.webhooks import PUBLIC, TOKEN, inbound_fields, signed

TZ = ZoneInfo("America/Toronto")
RESIDENT = "+14185550123"  # texts the service; masked by the code itself
# Numbers nobody masks on purpose: they reach a log line only in a request's path or query
# (uvicorn's access log, at DEBUG). The safety net must hide them.
IN_A_PATH = "418-555-0199"
IN_A_QUERY = "%2B14185550188"
WHOLE_NUMBERS = ("4185550123", "418-555-0199", "4185550199", "4185550188")
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("alerts.test", logging.ERROR, __file__, 1, message, args, exc_info)


def _failure() -> BaseException:
    try:
        raise ValueError("no route to +14185550123")
    except ValueError as exc:
        return exc


def test_a_json_line_has_time_level_logger_message_and_the_traceback_masked() -> None:
    record = _record("send to %s failed", "418 555 0123", exc=_failure())
    line = JsonLines(TZ).format(record)
    assert "\n" not in line
    document = json.loads(line)
    assert set(document) == {"time", "level", "logger", "message", "exc_info"}
    moment = datetime.fromisoformat(document["time"])
    assert moment.utcoffset() is not None
    assert abs(moment.timestamp() - record.created) < 0.001
    assert (document["level"], document["logger"]) == ("ERROR", "alerts.test")
    assert document["message"] == "send to ******0123 failed"
    assert "Traceback" in document["exc_info"] and "+1******0123" in document["exc_info"]
    assert "5550123" not in line


def test_a_text_line_keeps_its_format_and_masks_the_traceback_too() -> None:
    text = MaskedText().format(_record("send to %s failed", "+14185550123", exc=_failure()))
    first, *rest = text.splitlines()
    assert TEXT_LINE.match(first), first
    assert first.endswith("ERROR alerts.test: send to +1******0123 failed")
    assert "ValueError: no route to +1******0123" in rest
    assert "5550123" not in text


def test_log_settings_default_read_the_environment_and_name_a_bad_key() -> None:
    assert LogSettings() == LogSettings(level="INFO", format="text")
    settings = load_settings(env={"ALERTS_LOG_LEVEL": "warning", "ALERTS_LOG_FORMAT": " JSON "})
    assert (settings.log.level, settings.log.format) == ("WARNING", "json")
    assert isinstance(formatter_for(settings.log, TZ), JsonLines)
    assert isinstance(formatter_for(LogSettings(), TZ), MaskedText)
    for variable, value, key in [
        ("ALERTS_LOG_LEVEL", "loud", "log.level"),
        ("ALERTS_LOG_FORMAT", "xml", "log.format"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_settings(env={variable: value})
        assert key in str(caught.value) and variable in str(caught.value)


CHILD = """
import logging, threading, warnings
from zoneinfo import ZoneInfo
from alerts.config import LogSettings
from alerts.logs import configure

configure(LogSettings(level="INFO", format="json"), ZoneInfo("America/Toronto"))
logging.getLogger("uvicorn.error").info("Started server process")
logging.getLogger("apscheduler.executors.default").info("Running job (hidden below WARNING)")
logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
logging.getLogger("alerts.test").debug("hidden at INFO")
warnings.warn("an old setting", DeprecationWarning)
crash = threading.Thread(target=lambda: 1 / 0, name="dispatch-1")
crash.start()
crash.join()
"""


def test_warnings_and_a_thread_crash_are_lines_like_the_others() -> None:
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                           timeout=60, cwd=Path(__file__).parent.parent)  # fmt: skip
    assert child.returncode == 0 and child.stdout == "", child.stderr
    documents = [json.loads(line) for line in child.stderr.splitlines()]
    assert [(d["level"], d["logger"]) for d in documents] == [
        ("INFO", "uvicorn.error"),
        ("WARNING", "apscheduler.scheduler"),
        ("WARNING", "py.warnings"),
        ("ERROR", "alerts.threads"),
    ], documents
    assert "DeprecationWarning: an old setting" in documents[2]["message"]
    crashed = documents[3]
    assert crashed["message"] == "thread dispatch-1 crashed: ZeroDivisionError"
    assert "Traceback" in crashed["exc_info"] and "ZeroDivisionError" in crashed["exc_info"]


@dataclass
class Run:
    """One `alerts serve` run: its environment, port, log file and, once stopped, its lines."""

    env: dict[str, str]
    port: int
    log: Path
    lines: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_up(self, server: subprocess.Popen[bytes]) -> bool:
        """Whether the process answers /health within a minute (False if it ended)."""

        def answers() -> bool:
            try:
                return httpx2.get(f"{self.base}/health", timeout=1).status_code in (200, 503)
            except httpx2.TransportError:
                return False

        return wait_until(lambda: server.poll() is not None or answers(), 60) and (
            server.poll() is None
        )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Three `alerts serve` started side by side (JSON at DEBUG, JSON at WARNING without a
    Twilio token, the default text at INFO), each sent the same requests, then stopped."""
    settings = {
        "json": {"ALERTS_LOG_FORMAT": "json", "ALERTS_LOG_LEVEL": "DEBUG",
                 "TWILIO_AUTH_TOKEN": TOKEN},
        "warning": {"ALERTS_LOG_FORMAT": "json", "ALERTS_LOG_LEVEL": "WARNING"},
        "text": {"TWILIO_AUTH_TOKEN": TOKEN},
    }  # fmt: skip
    made: dict[str, Run] = {}
    servers = []
    for name, variables in settings.items():
        folder = tmp_path_factory.mktemp(f"logs-{name}")
        env = clean_env(
            ("ALERTS_", "TWILIO_"),
            ALERTS_DATABASE_URL=f"sqlite:///{folder / 'alerts.db'}",
            ALERTS_GATEWAY="file",
            ALERTS_GATEWAY_FILE=str(folder / "outbox.jsonl"),
            ALERTS_PUBLIC_URL=PUBLIC,
            **variables,
        )
        run = Run(env, free_port(), folder / "serve.log", [])
        servers.append(start_cli(env, folder, "serve", "--port", str(run.port), log=run.log))
        made[name] = run
    try:
        for (name, run), server in zip(made.items(), servers, strict=True):
            assert run.wait_up(server), f"{name}: {run.log.read_text()}"
            fields = inbound_fields("AIDE", sender=RESIDENT)
            answer = httpx2.post(f"{run.base}/sms/inbound", data=fields,
                                 headers=signed("/sms/inbound", fields), timeout=10)  # fmt: skip
            assert answer.status_code == (403 if name == "warning" else 200), answer.text
            httpx2.get(f"{run.base}/zones/{IN_A_PATH}", timeout=10)
            httpx2.get(f"{run.base}/health?to={IN_A_QUERY}", timeout=10)
    finally:
        for server in servers:
            stop(server, timeout=20)
    for run in made.values():
        run.lines = run.log.read_text(encoding="utf-8").splitlines()
    yield made


def _objects(run: Run) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in run.lines]
    for document in documents:
        assert isinstance(document, dict)
        assert {"time", "level", "logger", "message"} <= set(document), document
        assert datetime.fromisoformat(document["time"]).utcoffset() is not None, document
    return documents


def test_every_line_of_a_json_serve_is_an_object_from_every_logger(runs: dict[str, Run]) -> None:
    run = runs["json"]
    documents = _objects(run)  # a line that is not JSON fails here
    loggers = {document["logger"] for document in documents}
    assert {"uvicorn.error", "uvicorn.access", "alerts.clock.scheduler"} <= loggers, loggers
    assert any(name.startswith("apscheduler") for name in loggers), loggers
    messages = [document["message"] for document in documents]
    assert any(m.startswith("alerts serve: web on http://127.0.0.1:") for m in messages)
    assert any("from +1******0123: help" in m for m in messages), messages
    assert any("GET /zones/******0199 HTTP/1.1" in m for m in messages), messages
    assert any("GET /health?to=%2B1******0188 HTTP/1.1" in m for m in messages), messages
    assert {document["level"] for document in documents} >= {"DEBUG", "INFO"}


def test_warning_hides_info_and_debug_lines(runs: dict[str, Run]) -> None:
    documents = _objects(runs["warning"])
    levels = {document["level"] for document in documents}
    assert levels <= {"WARNING", "ERROR"}, documents
    assert any("TWILIO_AUTH_TOKEN is not set" in d["message"] for d in documents), documents
    # The same requests at DEBUG and INFO wrote lines this run has not.
    assert not any(d["logger"] == "uvicorn.access" for d in documents)


def test_text_stays_the_default(runs: dict[str, Run]) -> None:
    first, *rest = runs["text"].lines
    assert first.startswith("alerts serve: web on http://127.0.0.1:")
    assert rest and all(TEXT_LINE.match(line) for line in rest), rest
    assert any(line.endswith("INFO alerts.clock.scheduler: scheduler started") for line in rest)
    assert any(" INFO uvicorn.error: Uvicorn running on http://127.0.0.1:" in s for s in rest)
    assert any("INFO alerts.sms.conversation: inbound " in line and
               line.endswith(" from +1******0123: help") for line in rest)  # fmt: skip
    assert not any(" DEBUG " in line or "uvicorn.access" in line for line in rest)


@pytest.mark.parametrize("name", ["json", "warning", "text"])
def test_no_whole_phone_number_reaches_the_log(runs: dict[str, Run], name: str) -> None:
    text = "\n".join(runs[name].lines)
    assert text, f"{name}: nothing logged"
    for number in WHOLE_NUMBERS:
        assert number not in text, f"{name}: {number} in the log"
