"""What every CLI command shares: the lazily built services and the two output styles."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from alerts.config import Settings
    from alerts.wiring import Services

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


def id_argument(help_text: str) -> Any:
    """A positional id: a usage error (exit 2) outside 1..MAX_ID, never an internal one."""
    return typer.Argument(..., min=1, max=MAX_ID, help=help_text)


class CliState:
    """Per-invocation state: the config path, then settings and services built on first use."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._services: Services | None = None

    @cached_property
    def settings(self) -> Settings:
        """The validated settings (ConfigError on a bad value)."""
        from alerts.config import load_settings

        return load_settings(self.config_path)

    @property
    def operator_lang(self) -> str:
        """The operator's language, "fr" or "en" (service.operator_language, else the locale)."""
        return self.settings.operator_lang

    def human_time(self, moment: datetime | str | None) -> str:
        """`moment` local, for the operator: "jeu. 3 déc. 19 h" / "Thu Dec 3, 7 p.m."; "" for None.

        An ISO 8601 string (as the use-cases' documents hold) is read first. The year shows
        only when it is not the current one; --json output keeps ISO 8601.
        """
        if moment is None or moment == "":
            return ""
        from alerts.core.local_time import human_time

        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:  # the service stores UTC
            moment = moment.replace(tzinfo=UTC)
        tz = self.settings.service.tz
        return human_time(moment, tz, self.operator_lang, now=datetime.now(UTC))

    def services(self) -> Services:
        """The wired services; migrates an empty database on first use."""
        if self._services is None:
            from alerts.wiring import build

            self._services = build(self.settings)
        return self._services

    def close(self) -> None:
        """Release connections at the end of the command."""
        if self._services is not None:
            self._services.close()


def state(ctx: typer.Context) -> CliState:
    """The CliState of this invocation."""
    root = ctx.find_root()
    assert isinstance(root.obj, CliState)
    return root.obj


def services(ctx: typer.Context) -> Services:
    """The wired services of this invocation."""
    return state(ctx).services()


console = Console(highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(document: Any) -> None:
    """One compact JSON document on one line of stdout (for streams of results)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
