"""Sandbox KIS peer: the REST contract of ``client.py`` over the offline directory.

FastAPI on uvicorn; in-process ``with KisPeer() as peer: peer.url`` or as a process
``ekita-hub peer kis [--port 8711]``. ``peer.fail_next(n)`` makes the next ``n`` requests
answer HTTP 500 (tests of the fallback).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from ekita.hub.testkit.asgi import ThreadedAsgiPeer
from ekita.plugins.kis.client import CONTRACT_VERSION
from ekita.plugins.kis.directory import Directory, Unresolved, load


def build_app(directory: Directory) -> FastAPI:
    app = FastAPI(title="KIS sandbox peer", docs_url=None, redoc_url=None)
    app.state.failures = 0

    @app.middleware("http")
    async def inject(request: Request, call_next: Any) -> Response:
        if app.state.failures > 0:
            app.state.failures -= 1
            return JSONResponse({"error": "injected fault"}, status_code=500)
        return await call_next(request)

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"contract": CONTRACT_VERSION, "source_version": directory.version,
                "streets": directory.street_count}

    @app.get("/v1/streets")
    def streets(prefix: str = Query(min_length=1, max_length=80),
                limit: int = Query(20, ge=1, le=100)) -> list[dict[str, str]]:
        return directory.suggest(prefix, limit)

    @app.get("/v1/addresses/resolve")
    def resolve(street: str = "", house_no: str = "", postcode: str = "",
                town: str = "") -> Any:
        try:
            return asdict(directory.resolve(street, house_no, postcode, town or None))
        except Unresolved as exc:
            return JSONResponse({"reason": exc.reason}, status_code=404)

    return app


class KisPeer(ThreadedAsgiPeer):
    def __init__(self, directory: Directory | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.app = build_app(directory or load())
        super().__init__(self.app, name="KIS", host=host, port=port)

    @property
    def url(self) -> str:
        return self.base_url

    def fail_next(self, n: int = 1) -> None:
        self.app.state.failures = n


def serve(host: str, port: int, directory_file: str | None = None) -> None:
    uvicorn.run(build_app(load(directory_file)), host=host, port=port, log_level="warning",
                access_log=False)
