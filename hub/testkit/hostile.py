"""A hostile HTTP peer for tests: drips, hangs, floods or answers garbage (issue 12 item 5).

A raw threaded socket server on 127.0.0.1, because a well-behaved HTTP framework cannot
misbehave at the byte level: ``drip`` sends its answer (status line and headers included)
one byte every ``interval`` seconds, ``hang`` reads the request and never answers,
``flood`` answers 200 with an endless body as fast as the socket takes it, ``garbage``
answers ``status`` with ``body`` (helpers below: not-JSON, deep nesting, wrong types,
malformed XML). ``sent_bytes`` tells how much the peer got out before the client gave up,
``requests`` how many requests arrived::

    with HostilePeer("hang") as peer:
        call(peer.url, ...)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Literal, Self

Mode = Literal["drip", "hang", "flood", "garbage"]
MAX_REQUEST_BYTES = 1024 * 1024


def deep_json(depth: int = 100_000) -> bytes:
    """A JSON array nested ``depth`` levels (a recursion bomb for naive parsers)."""
    return b"[" * depth + b"]" * depth


def deep_xml(depth: int = 10_000) -> bytes:
    """XML nested ``depth`` elements (past libxml2's limit without ``huge_tree``)."""
    return b"<?xml version='1.0'?>" + b"<a>" * depth + b"</a>" * depth


def entity_xml() -> bytes:
    """A billion-laughs style DOCTYPE with entities; must be refused, never expanded."""
    return (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>')


class HostilePeer:
    """In-process hostile peer on a daemon thread; switch ``mode`` between calls."""

    def __init__(self, mode: Mode = "hang", *, interval: float = 0.5, body: bytes = b"junk",
                 content_type: str = "application/json", status: int = 200,
                 host: str = "127.0.0.1") -> None:
        self.mode, self.interval, self.body = mode, interval, body
        self.content_type, self.status = content_type, status
        self.sent_bytes = 0
        self.requests = 0
        self._host = host
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._sock: socket.socket | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        sock.listen(64)
        sock.settimeout(0.1)
        self._sock = sock
        threading.Thread(target=self._accept, name="hostile-peer", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._sock is None:
            raise RuntimeError("hostile peer: not started")
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    # --- serving ---------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                if self._read_request(conn):
                    with self._lock:
                        self.requests += 1
                    self._answer(conn)
        except OSError:
            pass  # the client gave up: exactly what a hostile peer wants to see
        finally:
            with self._lock:
                self._conns.discard(conn)

    def _read_request(self, conn: socket.socket) -> bool:
        conn.settimeout(5.0)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk or len(data) > MAX_REQUEST_BYTES:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = min(int(value.strip()), MAX_REQUEST_BYTES)
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            rest += chunk
        return True

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.sent_bytes += len(data)

    def _answer(self, conn: socket.socket) -> None:
        if self.mode == "hang":
            self._stop.wait()
            return
        if self.mode == "flood":
            self._send(conn, f"HTTP/1.1 200 OK\r\nContent-Type: {self.content_type}\r\n"
                             "Connection: close\r\n\r\n".encode())
            block = b"x" * 65536
            while not self._stop.is_set():
                self._send(conn, block)
            return
        answer = (f"HTTP/1.1 {self.status} Whatever\r\nContent-Type: {self.content_type}\r\n"
                  f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
                  ).encode() + self.body
        if self.mode == "garbage":
            self._send(conn, answer)
            return
        for i in range(len(answer)):  # drip
            if self._stop.wait(self.interval):
                return
            self._send(conn, answer[i:i + 1])


def wait_for(predicate: object, timeout_s: float = 5.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout_s`` passed (for the peer's counters)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False
