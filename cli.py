"""`alerts`: the operators' command line (a thin Typer shell over the service's use-cases)."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import click
import typer

from alerts.commands import alert_status as alert_status_commands
from alerts.commands import alerts as alert_commands
from alerts.commands import audit as audit_commands
from alerts.commands import db as db_commands
from alerts.commands import demo as demo_commands
from alerts.commands import operations as operation_commands
from alerts.commands import serve as serve_commands
from alerts.commands import sms as sms_commands
from alerts.commands import subscribers as subscriber_commands
from alerts.commands import templates as template_commands
from alerts.commands import zones as zone_commands
from alerts.commands.console_text import without_controls
from alerts.commands.context import CliState
from alerts.errors import AlertsError
from zones.errors import ZoneError

# Recent Typer releases carry their own copy of Click; catch the exceptions of both.
_CLICKS = [click.exceptions]
try:
    from typer._click import exceptions as _typer_click_exceptions

    _CLICKS.append(_typer_click_exceptions)
except ImportError:  # a Typer that uses Click itself
    pass
_USAGE_ERRORS = tuple(module.UsageError for module in _CLICKS)
_CLICK_ERRORS = tuple(module.ClickException for module in _CLICKS)
_ABORTS = (click.exceptions.Abort, typer.Abort)
YOUNG_COLLECTION_THRESHOLD = 50_000  # Python's default: 700 allocations

app = typer.Typer(
    name="alerts",
    help="Neighbourhood SMS alerts: snow removal and photo radar, by text message.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(subscriber_commands.app, name="subscribers")
app.add_typer(zone_commands.app, name="zones")
app.add_typer(zone_commands.addresses_app, name="addresses")
app.add_typer(sms_commands.app, name="sms")
app.add_typer(operation_commands.app, name="operations")
app.add_typer(operation_commands.schedule_app, name="schedule")
app.add_typer(template_commands.app, name="templates")
app.command("serve")(serve_commands.serve)
app.command("demo")(demo_commands.demo)
app.command("audit")(audit_commands.audit)
app.command("send")(alert_commands.send)
app.command("status")(alert_status_commands.status)
app.command("cancel")(alert_commands.cancel)
app.command("history")(alert_status_commands.history)
app.command("dispatch")(alert_commands.dispatch)


def _print_version(value: bool) -> None:
    if value:
        from alerts import __version__

        sys.stdout.write(f"alerts {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    config: Path = typer.Option(
        None, "--config", help="TOML config file (else $ALERTS_CONFIG, else ./alerts.toml)."
    ),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """Neighbourhood SMS alerts: snow removal and photo radar, by text message."""
    ctx.obj = CliState(config)
    ctx.call_on_close(ctx.obj.close)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every error becomes one line on stderr and an exit code."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="alerts", standalone_mode=False)
    except _USAGE_ERRORS as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            sys.stdout.write(exc.ctx.get_help() + "\n")  # a bare group: its help, not an error
            return 0
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        return _fail(f"error: {exc.format_message()}{hint}", 2)
    except _CLICK_ERRORS as exc:
        return _fail(f"error: {exc.format_message()}", exc.exit_code or 1)
    except (AlertsError, ZoneError) as exc:
        return _fail(f"error: {exc}", getattr(exc, "exit_code", 1))
    except _ABORTS:
        return _fail("aborted", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, never a traceback for an operator
        return _fail(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0], 70)
    return result if isinstance(result, int) else 0


def _fail(message: str, code: int) -> int:
    # One line, and no control character from data (a zone name in a suggestion, say).
    sys.stderr.write(" ".join(without_controls(message).split()) + "\n")
    return code


def run() -> None:
    """The `alerts` program: run the command, then leave without tearing the interpreter down.

    Once a command is over, Python's own exit still unloads every module, which takes as long
    as a quick command itself once SQLAlchemy and pydantic are loaded. The streams are flushed
    and the exit handlers run as usual; only the teardown is skipped, and only when no other
    thread is left to finish.
    """
    # Collections while the libraries load are a third of a quick command's time: the young
    # generation is collected less often for the life of the command.
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # the reader went away, or a stream is closed
        pass
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    run()
