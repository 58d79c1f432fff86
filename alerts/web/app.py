"""The web app: Twilio's webhooks, /health, and the public routes (page, feeds, CAP, metrics)."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError

from alerts.public.cap import cap_router
from alerts.public.feeds import feeds_router
from alerts.public.public_cache import PublicCache
from alerts.public.public_pages import pages_router
from alerts.storage.zone_catalog import NoZoneLayer
from alerts.web.health import ThisProcess, health_router
from alerts.web.metrics import WebhookCounter, metrics_router
from alerts.web.webhooks import webhooks_router
from alerts.wiring import Services

# The largest id a table holds (PostgreSQL's integer; SQLite's go further): a path naming a
# larger number names nothing, and must not reach a query that cannot bind it.
MAX_ID = 2**31 - 1


class OutOfRange(Exception):
    """A path names a number no row can have."""


async def ids_in_range(request: Request) -> None:
    """OutOfRange (404) for a path parameter of digits beyond MAX_ID."""
    for value in request.path_params.values():
        digits = str(value).lstrip("+-")
        if digits.isascii() and digits.isdigit() and (len(digits) > 10 or int(digits) > MAX_ID):
            raise OutOfRange


def create_app(services: Services, this_process: ThisProcess | None = None) -> FastAPI:
    """The FastAPI app serving the webhooks, health and public routes for these services
    (`this_process`: what /health says of the process serving it)."""
    app = FastAPI(
        title="Neighbourhood SMS alerts",
        docs_url=None,
        redoc_url=None,
        # async: a plain function would cost every request a trip through the thread pool.
        dependencies=[Depends(ids_in_range)],
    )

    @app.exception_handler(OutOfRange)
    async def out_of_range(request: Request, exc: OutOfRange) -> Response:
        return _not_found()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # /alerts/abc.cap.xml names no alert: a 404, like an id that is not there.
        if exc.errors() and all(error["loc"][:1] == ("path",) for error in exc.errors()):
            return _not_found()
        return await request_validation_exception_handler(request, exc)

    app.include_router(webhooks_router(services))
    app.add_middleware(WebhookCounter)  # webhook answers by status, for /metrics
    app.include_router(health_router(services, this_process))
    include_public_routes(app, services)
    return app


def _not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


def include_public_routes(app: FastAPI, services: Services) -> None:
    """The read-only public page, open-data feeds and metrics (see alerts.public)."""
    cache = PublicCache(services)

    @app.exception_handler(NoZoneLayer)
    def no_layer(request: Request, exc: NoZoneLayer) -> Response:
        # A new install: the public routes have nothing to show until zones are imported.
        return Response(f"{exc}\n", status_code=503, media_type="text/plain")

    app.include_router(pages_router(services, cache))
    app.include_router(feeds_router(services, cache))
    app.include_router(cap_router(services, cache))
    app.include_router(metrics_router(services))
