"""`alerts serve`: the web app, the scheduler and dispatch workers, in one process or split."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

from alerts.commands.context import console, services, state
from alerts.errors import ConfigError

if TYPE_CHECKING:
    from alerts.config import Settings


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    no_web: bool = typer.Option(False, "--no-web", help="Do not serve HTTP."),
    no_scheduler: bool = typer.Option(False, "--no-scheduler", help="Never run the scheduler."),
    workers: int = typer.Option(1, "--workers", min=0, help="Dispatch workers (0: none)."),
) -> None:
    """Serve the webhooks and the public pages, run the scheduler and send the outbox."""
    from alerts.service import Roles, ServiceProcess

    if not no_web:
        check_webhook_address(state(ctx).settings)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # These log every request, job run or migration step at INFO; their warnings suffice.
    for noisy in ("twilio.async_http_client", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    roles = Roles(web=not no_web, scheduler=not no_scheduler, workers=workers, host=host, port=port)
    wired = services(ctx)
    parts = [
        f"web on http://{host}:{port}" if roles.web else None,
        "scheduler (when it holds the lock)" if roles.scheduler else None,
        f"{workers} dispatch worker(s)" if workers else None,
    ]
    console.print("alerts serve: " + ", ".join(part for part in parts if part))
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
