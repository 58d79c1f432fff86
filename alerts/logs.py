"""The log lines of `alerts serve`: one level, text or one JSON object a line, numbers masked.

`configure` gives the root logger the one handler every line goes through: ours, uvicorn's
(served with `log_config=None`, so it installs no handler of its own), APScheduler's, the
Twilio SDK's, Python's warnings and a thread's uncaught exception. Whatever the format, the
finished line is searched for anything that looks like a phone number, which keeps only its
last four digits (the code masks the numbers it logs; this is the net under it, for a
library's line or a number in a request path).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from alerts.config import LogSettings
from alerts.core.phones import mask_phones_in

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "alerts"
# Libraries that write a line for every request, job run or migration step at INFO (uvicorn's
# access log: one per request, which the TLS proxy logs too): their warnings suffice, unless
# the operator asks for DEBUG.
QUIET_UNLESS_DEBUG = ("twilio", "apscheduler", "alembic", "uvicorn.access")
# Libraries whose DEBUG is a dump of every statement or form field: warnings only, always.
ALWAYS_QUIET = ("sqlalchemy", "python_multipart", "multipart")
# uvicorn's loggers: no handlers of their own, their lines go up to ours.
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class MaskedText(logging.Formatter):
    """The text lines (`TEXT_FORMAT`), tracebacks included, with phone numbers masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The line as logging writes it, masked."""
        return mask_phones_in(super().format(record))


class JsonLines(logging.Formatter):
    """One JSON object a line: time (ISO 8601 with its offset), level, logger, message, and
    exc_info (the traceback's text) when there is one; phone numbers masked in each."""

    def __init__(self, tz: ZoneInfo) -> None:
        super().__init__()
        self.tz = tz

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (newlines in a message are escaped)."""
        moment = datetime.fromtimestamp(record.created, self.tz)
        line = {
            "time": moment.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_phones_in(record.getMessage()),
        }
        if record.exc_info:
            line["exc_info"] = mask_phones_in(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc_info"] = mask_phones_in(record.exc_text)
        if record.stack_info:
            line["stack_info"] = mask_phones_in(self.formatStack(record.stack_info))
        # ASCII only: a line stays valid JSON whatever the encoding of the stream.
        return json.dumps(line)


def formatter_for(settings: LogSettings, tz: ZoneInfo) -> logging.Formatter:
    """The formatter `log.format` names."""
    return JsonLines(tz) if settings.format == "json" else MaskedText()


def configure(settings: LogSettings, tz: ZoneInfo, stream: TextIO | None = None) -> None:
    """Send every log line of this process through one handler on `stream` (stderr), at
    `log.level`, in `log.format`; called once by `alerts serve` before it starts anything."""
    level = logging.getLevelName(settings.level)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter_for(settings, tz))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    library_level = logging.DEBUG if level == logging.DEBUG else max(level, logging.WARNING)
    for name in QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(library_level)
    for name in ALWAYS_QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)  # warnings.warn(...) becomes a line like the others
    threading.excepthook = _log_thread_crash


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    # Python would print the traceback raw on stderr: a line in the log's format instead.
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("alerts.threads").error(
        "thread %s crashed: %s", name, args.exc_type.__name__, exc_info=args.exc_value
    )
