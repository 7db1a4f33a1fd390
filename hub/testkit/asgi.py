"""An ASGI sandbox peer on uvicorn in a background thread, for tests and the demo.

The MESO (SOAP) and KIS (REST) peers are ASGI apps; this starts one on a free localhost
port, waits until it accepts connections and stops it on exit:
``with ThreadedAsgiPeer(app, name="KIS") as peer: peer.base_url``.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from ekita.hub.testkit.ports import free_port


class ThreadedAsgiPeer:
    """Serve ``app`` in a daemon thread; subclasses add the protocol's own helpers."""

    def __init__(self, app: Any, *, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.host, self.port = host, port or free_port(host)
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=self.host, port=self.port, log_level="warning", lifespan="off",
            access_log=False))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> Self:
        self._thread.start()
        end = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > end or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} sandbox peer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
