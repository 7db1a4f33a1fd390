"""Every outbound call to a peer: a total deadline, a size cap, a clear error (issue 12 item 5).

Threat: a peer that is slow, hangs, drips one byte at a time, floods or answers garbage
must neither block nor crash the hub. httpx's timeouts are per socket operation, so a
peer dripping a byte every half second would never trip them; here every socket
operation (connect, TLS, write, read) is given at most the time left until the call's
*total* deadline, through an httpcore network backend that clamps each timeout. The body
is streamed and reading stops past ``max_bytes``. Failures end as the delivery engine's
two kinds (``ekita.hub.delivery.errors``): deadline, refused connection → transient;
an answer over the cap, unreadable JSON/XML, a DOCTYPE → permanent or transient as each
class says. Reasons name the peer and the URL without its query (a query may carry an
address), never a person.

Used by the request path (MESO intake check, KIS lookups, health) and by the delivery
worker (``ekita.hub.delivery.http``: SAP-FI, SAP-CO, DOMEA, carrier export, Octoware).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from lxml import etree

from ekita.hub import inputs
from ekita.hub.delivery.errors import (
    AnswerTooLarge,
    DeadlineExceeded,
    MalformedAnswer,
    PeerUnreachable,
)

DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # no peer contract of ours answers more than a few KiB
MAX_JSON_DEPTH = 64
CHUNK = 64 * 1024

_deadline: ContextVar[float | None] = ContextVar("ekita_peer_deadline", default=None)


def _left(timeout: float | None, kind: type[Exception]) -> float | None:
    """The operation's timeout, cut to what is left of the call's total deadline."""
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise kind("total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the call's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address,
            socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _transport() -> httpx.HTTPTransport:
    """httpx's transport over the deadline backend (httpx has no public hook for the
    backend, so its connection pool is rebuilt with the same defaults)."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_connections=100,
        max_keepalive_connections=20, keepalive_expiry=5.0,
        network_backend=_DeadlineBackend())
    return transport


_lock = threading.Lock()
_client: httpx.Client | None = None


def client() -> httpx.Client:
    """One keep-alive client per process (thread-safe); the deadline is per call."""
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(transport=_transport(), follow_redirects=False)
        return _client


@dataclass(frozen=True)
class Answer:
    """A peer's complete answer, read within the deadline and the cap."""

    peer: str
    url: str  # without the query
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body as JSON; anything unreadable or nested too deep is ``MalformedAnswer``."""
        return parse_json(self.content, self.peer)

    def response(self) -> httpx.Response:
        """As an ``httpx.Response`` (already read), for adapters that read one."""
        return httpx.Response(self.status_code, headers=self.headers, content=self.content,
                              request=httpx.Request("POST", self.url))


def _bare(url: httpx.URL | str) -> str:
    return str(httpx.URL(str(url)).copy_with(query=None, fragment=None))


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Every peer call inside ends by ``seconds`` from now (the earlier of nested ones)."""
    end = time.monotonic() + seconds
    outer = _deadline.get()
    end = end if outer is None else min(end, outer)
    token = _deadline.set(end)
    try:
        yield end
    finally:
        _deadline.reset(token)


def call(method: str, url: str, *, peer: str, deadline_s: float,
         max_bytes: int = DEFAULT_MAX_BYTES, params: dict[str, Any] | None = None,
         content: bytes | None = None, headers: dict[str, str] | None = None,
         auth: tuple[str, str] | None = None) -> Answer:
    """One HTTP call, done (connect, send, every read) within ``deadline_s`` seconds.

    Raises ``DeadlineExceeded`` / ``PeerUnreachable`` (transient) or ``AnswerTooLarge``
    (permanent); a non-2xx answer is returned, its class is the caller's business.
    """
    where = _bare(url)
    sent = {"Accept-Encoding": "identity", **(headers or {})}
    with deadline(deadline_s) as end:
        try:
            with client().stream(method, url, params=params, content=content, headers=sent,
                                 auth=auth, timeout=deadline_s) as response:
                body = _read_capped(response, peer, where, max_bytes, end)
                return Answer(peer, where, response.status_code, response.headers, body)
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(f"{peer}: timeout, no complete answer within "
                                   f"{deadline_s:g} s ({type(exc).__name__}) from {where}"
                                   ) from None
        except httpx.TransportError as exc:
            if time.monotonic() >= end:
                raise DeadlineExceeded(f"{peer}: timeout, no complete answer within "
                                       f"{deadline_s:g} s from {where}") from None
            raise PeerUnreachable(f"{peer}: connection failed ({type(exc).__name__}) "
                                  f"at {where}") from None


def _read_capped(response: httpx.Response, peer: str, where: str, max_bytes: int,
                 end: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(f"{peer}: answer of {int(declared)} bytes from {where} is over "
                             f"the cap of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(f"{peer}: answer from {where} exceeds the cap of "
                                 f"{max_bytes} bytes; reading stopped")
        chunks.append(chunk)
        if time.monotonic() > end:
            raise httpx.ReadTimeout("total deadline passed")
    return b"".join(chunks)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of decoded JSON, iteratively (no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                   else item))
    return deepest


def parse_json(data: bytes, peer: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Peer JSON, or ``MalformedAnswer`` (not JSON, not UTF-8, nested deeper than allowed)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedAnswer(f"{peer}: answer is not JSON ({type(exc).__name__})") from None
    if _depth(value, max_depth) > max_depth:
        raise MalformedAnswer(f"{peer}: answer nested deeper than {max_depth} levels")
    return value


def parse_xml(data: bytes, peer: str) -> etree._Element:
    """Peer XML through the hub's one safe parser (``ekita.hub.inputs``: no DTD, entities or
    network, DOCTYPE refused after decoding), or ``MalformedAnswer``."""
    try:
        return inputs.parse_xml(data, record=peer)
    except inputs.XmlRefused as exc:
        raise MalformedAnswer(f"{peer}: answer refused: {exc.message}") from None
