"""The FastAPI application: core routes under /api/v1, plugin routes under /api/v1/adapters."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import Engine

from ekita.core.db.session import make_engine
from ekita.hub.api import errors
from ekita.hub.api.routes import (
    addresses,
    audit,
    documents,
    fees,
    masterdata,
    ops,
    people,
    placement,
    placement_reports,
    system,
    users,
)
from ekita.hub.config import Settings, load_settings
from ekita.hub.logs import quiet_transports
from ekita.hub.plugins import LoadedPlugins, load_plugins

API_PREFIX = "/api/v1"
access_log = logging.getLogger("ekita.access")


async def log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
    """Access log without query strings: searches carry names, which never go to a log."""
    started = time.perf_counter()
    response = await call_next(request)
    access_log.info("%s %s %s %.1fms", request.method, request.url.path, response.status_code,
                    (time.perf_counter() - started) * 1000)
    return response


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               plugins: LoadedPlugins | None = None) -> FastAPI:
    settings = settings or load_settings()
    # Adapters called in a request (MESO at submission, KIS on an address) log no URL or body.
    quiet_transports(settings.transport_log_level)
    plugins = plugins or load_plugins(settings)
    app = FastAPI(title="E-KITA hub", version="0.1.0",
                  description="Master data, placement and the city's systems, in one hub.")
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.plugins = plugins
    errors.install(app)
    app.middleware("http")(log_request)
    app.include_router(system.health_router)
    app.include_router(ops.metrics_router)
    if settings.data_key is not None:  # bank data at rest (core.crypto)
        from ekita.core import crypto

        crypto.configure(settings.data_key.get_secret_value())
    for module in (masterdata, people, addresses, audit, system, ops, placement_reports,
                   placement, fees, documents, users):
        app.include_router(module.router, prefix=API_PREFIX)
    adapters = APIRouter(prefix=f"{API_PREFIX}/adapters")
    for routers in plugins.manager.hook.register_routes(settings=settings):
        for router in routers or ():
            adapters.include_router(router)
    app.include_router(adapters)
    return app
