"""Sandbox KIS peer: the REST contract of ``client.py`` over the offline directory.

FastAPI on uvicorn; in-process ``with KisPeer() as peer: peer.url`` or as a process
``ekita-hub peer kis [--port 8711]``. ``peer.fail_next(n)`` makes the next ``n`` requests
answer HTTP 500 (tests of the fallback).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from types import TracebackType
from typing import Any, Self

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from ekita.hub.testkit.ports import free_port
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


class KisPeer:
    def __init__(self, directory: Directory | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.app = build_app(directory or load())
        self.host, self.port = host, port or free_port(host)
        self._server = uvicorn.Server(uvicorn.Config(
            self.app, host=host, port=self.port, log_level="warning", lifespan="off",
            access_log=False))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def fail_next(self, n: int = 1) -> None:
        self.app.state.failures = n

    def start(self) -> Self:
        self._thread.start()
        end = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > end or not self._thread.is_alive():
                raise RuntimeError("KIS sandbox peer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


def serve(host: str, port: int, directory_file: str | None = None) -> None:
    uvicorn.run(build_app(load(directory_file)), host=host, port=port, log_level="warning",
                access_log=False)
