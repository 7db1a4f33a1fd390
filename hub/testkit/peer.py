"""Sandbox peer: a real HTTP server on 127.0.0.1 that adapters and the delivery engine talk to.

It deduplicates deliveries by ``Idempotency-Key``, records every request and counts the
effects per key, and fails on command (error status, time-out after receiving, connection
reset, slow answers). Use it in-process (``with SandboxPeer() as peer:``) or as its own
process (``python -m ekita.hub.testkit.peer``, see ``ekita.hub.testkit.remote``).
See docs/testkit.md.

Built on the standard library's threaded HTTP server: one thread per connection, so a slow
or hanging answer never blocks other clients, and a reset is a real TCP RST.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote

from ekita.hub.testkit.faults import Fault, FaultKind, FaultProgramming
from ekita.hub.testkit.peer_state import Effect, PeerState, Received, Reply

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_control/"
_QUIET_ERRORS = (ConnectionError, TimeoutError, OSError)


class _PeerServer(ThreadingHTTPServer):
    """Threaded server that knows its open connections so it can stop without waiting."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops connects when many workers start at once

    def __init__(self, address: tuple[str, int], state: PeerState) -> None:
        self.state = state
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._closed = threading.Condition()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._closed:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._closed:
            self._connections.discard(conn)
            self._closed.notify_all()

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down and wait (bounded) for their threads to end."""
        with self._closed:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._closed.wait_for(lambda: not self._connections, timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that go away (time-outs, resets) are expected; anything else is logged."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, _QUIET_ERRORS):
            log.exception("sandbox peer: error while handling a request")


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``PeerState`` calls and carries out injected faults."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _PeerServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the peer's records are the log, and bodies may carry test personal data."""

    # --- verbs -------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = self._path()
        raw = self._body()
        if raw is None:
            return
        if path.startswith(CONTROL_PREFIX):
            self._control("POST", path, raw)
        else:
            self._deliver("POST", path, raw)

    def do_PUT(self) -> None:
        path = self._path()
        raw = self._body()
        if raw is not None:
            self._deliver("PUT", path, raw)

    def do_GET(self) -> None:
        path = self._path()
        if path.startswith(CONTROL_PREFIX):
            self._control("GET", path, b"")
            return
        key = unquote(path.rstrip("/").rpartition("/")[2])
        if not key:
            self._send(Reply(404, {"error": "GET needs a key: /messages/{key}"}))
            return
        self._send(self.server.state.lookup(path, key))

    def do_DELETE(self) -> None:
        path = self._path()
        if path.startswith(CONTROL_PREFIX):
            self._control("DELETE", path, b"")
        else:
            self._send(Reply(405, {"error": "the sandbox peer accepts POST and PUT deliveries"}))

    # --- delivery ----------------------------------------------------------------------

    def _deliver(self, method: str, path: str, raw: bytes) -> None:
        state = self.server.state
        key = self.headers.get("Idempotency-Key")
        fault = state.take_fault(method, path, key)
        if fault is None:
            self._send(state.deliver(method, path, key, raw))
            return
        if (
            fault.kind in (FaultKind.SLOW, FaultKind.STATUS)
            and fault.delay
            and not self._wait(fault.delay)
        ):
            return
        if fault.kind is FaultKind.STATUS or (
            fault.kind is FaultKind.RESET and not fault.after_effect
        ):
            reply = state.refuse(method, path, key, len(raw), fault)
        else:
            reply = state.deliver(method, path, key, raw, fault)
        if fault.kind is FaultKind.RESET:
            self._reset()
            return
        if fault.kind is FaultKind.TIMEOUT and not self._wait(fault.delay):
            return
        self._send(reply)

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake when the peer stops; False means: give up on this connection."""
        if self.server.stopping.wait(seconds):
            self.close_connection = True
            return False
        return True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (linger 0) instead of an HTTP answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    # --- control -----------------------------------------------------------------------

    def _control(self, method: str, path: str, raw: bytes) -> None:
        state = self.server.state
        action = path[len(CONTROL_PREFIX) :].rstrip("/")
        if (method, action) == ("POST", "faults"):
            try:
                fault = Fault.from_json(json.loads(raw or b"null"))
            except ValueError as exc:
                self._send(Reply(400, {"error": str(exc)}))
                return
            state.add_fault(fault)
            self._send(Reply(201, {"fault": fault.to_json()}))
        elif (method, action) == ("DELETE", "faults"):
            state.clear_faults()
            self._send(Reply(200, {"faults": []}))
        elif (method, action) == ("POST", "reset"):
            state.reset()
            self._send(Reply(200, {"reset": True}))
        elif (method, action) == ("GET", "state"):
            records = "records=0" not in self.path
            self._send(Reply(200, state.to_json(with_records=records)))
        else:
            self._send(Reply(404, {"error": f"unknown control call {method} {path}"}))

    # --- plumbing ----------------------------------------------------------------------

    def _path(self) -> str:
        return self.path.partition("?")[0]

    def _body(self) -> bytes | None:
        """Read the body by Content-Length; chunked uploads are refused (411).

        ``None`` means "nothing to handle": an incomplete body is dropped unrecorded, as a
        real server would, so a half-sent request never takes effect.
        """
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._send(Reply(411, {"error": "send a Content-Length; chunked bodies are refused"}))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(Reply(400, {"error": "Content-Length is not a valid length"}))
            return None
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the client died mid-request (e.g. a SIGKILLed worker)
            self.close_connection = True
            return None
        return raw

    def _send(self, reply: Reply) -> None:
        """Head and body in one write: one packet for small answers, no Nagle delay."""
        body = json.dumps(reply.payload).encode()
        lines = [
            f"HTTP/1.1 {reply.status} {_phrase(reply.status)}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            self.close_connection = True


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class SandboxPeer(FaultProgramming):
    """In-process sandbox peer on a background thread; a context manager for tests."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, deduplicate: bool = True):
        self.state = PeerState(deduplicate=deduplicate)
        self._address = (host, port)
        self._server: _PeerServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind (port 0: a free port) and serve on a daemon thread."""
        if self._server is not None:
            raise RuntimeError("sandbox peer: already started")
        self._server = _PeerServer(self._address, self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-peer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, wake held answers, close open connections, join the thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections(timeout)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox peer: not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self._address[0]}:{self.port}"

    # --- programming and inspection (delegated to the state) ----------------------------

    def add_fault(self, fault: Fault) -> Fault:
        return self.state.add_fault(fault)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def reset(self) -> None:
        """Clear faults and all records."""
        self.state.reset()

    @property
    def effects(self) -> Counter[str]:
        return self.state.effects

    @property
    def received(self) -> list[Received]:
        return self.state.received

    @property
    def received_count(self) -> int:
        return self.state.received_count

    @property
    def effect_log(self) -> list[Effect]:
        return self.state.effect_log

    def attempts(self, key: str) -> int:
        return self.state.attempts(key)

    def took_effect(self, key: str) -> bool:
        return self.state.took_effect(key)

    def faults(self) -> list[tuple[Fault, int | None]]:
        return self.state.faults()


def _write_state(path: Path, state: PeerState) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state.to_json()), encoding="utf-8")
    os.replace(tmp, path)


P = TypeVar("P", bound=SandboxPeer)


def serve_until_stopped(peer: P) -> P:
    """Run ``peer`` until SIGTERM or SIGINT, its base URL on the first stdout line (what
    ``spawn_peer`` reads); the peer, stopped, is returned for its records."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with peer:
        print(peer.url, flush=True)
        while not stop.wait(0.5):
            pass
    return peer


def main(argv: list[str] | None = None) -> int:
    """Standalone mode: print the base URL on the first stdout line, serve until SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m ekita.hub.testkit.peer",
        description="Sandbox HTTP peer for adapter and delivery tests (docs/testkit.md).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--no-dedupe",
        action="store_true",
        help="every delivery takes effect, like a peer that cannot deduplicate",
    )
    parser.add_argument(
        "--state-file", type=Path, help="write the records here as JSON when stopping"
    )
    args = parser.parse_args(argv)
    peer = serve_until_stopped(SandboxPeer(host=args.host, port=args.port,
                                           deduplicate=not args.no_dedupe))
    if args.state_file is not None:
        _write_state(args.state_file, peer.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
