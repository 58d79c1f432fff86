"""`alerts serve`: the web app (Twilio webhooks) under uvicorn."""

from __future__ import annotations

import typer

from alerts.commands.common import console, services


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Serve the webhooks (/sms/inbound, /sms/status) and /health."""
    import uvicorn

    from alerts.web import create_app

    app = create_app(services(ctx))
    console.print(f"Serving on http://{host}:{port} (webhook: /sms/inbound)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
