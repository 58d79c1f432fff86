"""`alerts serve`: the web app, the scheduler and dispatch workers, in one process or split."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

from alerts.commands.context import console, services, state
from alerts.errors import ConfigError

if TYPE_CHECKING:
    from alerts.config import Settings

log = logging.getLogger(__name__)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    no_web: bool = typer.Option(False, "--no-web", help="Do not serve HTTP."),
    no_scheduler: bool = typer.Option(False, "--no-scheduler", help="Never run the scheduler."),
    workers: int = typer.Option(1, "--workers", min=0, help="Dispatch workers (0: none)."),
) -> None:
    """Serve the webhooks and the public pages, run the scheduler and send the outbox."""
    from alerts.logs import configure
    from alerts.service import Roles, ServiceProcess

    settings = state(ctx).settings
    if not no_web:
        check_webhook_address(settings)
    configure(settings.log, settings.service.tz)  # before anything logs (migrations, say)
    roles = Roles(web=not no_web, scheduler=not no_scheduler, workers=workers, host=host, port=port)
    wired = services(ctx)
    parts = [
        f"web on http://{host}:{port}" if roles.web else None,
        "scheduler (when it holds the lock)" if roles.scheduler else None,
        f"{workers} dispatch worker(s)" if workers else None,
    ]
    started = "alerts serve: " + ", ".join(part for part in parts if part)
    if settings.log.format == "json":
        log.info("%s", started)  # every line is JSON
    else:
        console.print(started)
    ServiceProcess(wired, roles).run()


def check_webhook_address(settings: Settings) -> None:
    """ConfigError when Twilio's webhooks would be served without the public address it signs.

    Without it a signature is checked against whatever host the request names, so a request
    signed for another address of the same account would pass.
    """
    if settings.gateway.kind == "twilio" and not settings.service.public_url:
        raise ConfigError(
            "config: service.public_url is required to serve Twilio's webhooks with the twilio "
            "gateway (set ALERTS_PUBLIC_URL to the address Twilio calls, e.g. https://alerts.example.ca)"
        )
