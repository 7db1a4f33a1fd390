"""Sandbox MESO peer: the shipped WSDL implemented with lxml on an ASGI server (uvicorn).

Not spyne: the service parses the SOAP 1.1 envelope with a hardened lxml parser (no DTD,
no entities, no network; a DOCTYPE is refused with a client fault), answers from a small
resident register (``register.py``) and can be told to misbehave, so tests exercise every
fault over real HTTP: SOAP fault, HTTP 500, malformed XML, a DOCTYPE or entities in the
answer, a wrong namespace, a slow answer. ``GET ?wsdl`` serves the WSDL.

In-process: ``with MesoPeer(register) as peer: peer.url``. As a process:
``ekita-hub peer meso [--database-url URL | --synthetic N] [--port 8710]``.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import uvicorn
from lxml import etree
from lxml.builder import ElementMaker

from ekita.hub.testkit.asgi import ThreadedAsgiPeer
from ekita.plugins.meso.codes import CONTRACT_VERSION, NS, SOAP_ENV, ResultCode, wsdl_path
from ekita.plugins.meso.register import Register, key_of, norm

WSSE = ("http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd")
MAX_BODY = 64 * 1024  # a check request is < 2 KB; anything bigger is refused
FAULT_MODES = ("soap_fault", "client_fault", "http500", "malformed", "doctype", "entities",
               "wrong_ns", "slow")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def safe_parser() -> etree.XMLParser:
    """interfaces.md §2.5, SEC6: no DTD, no entity resolution, no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_blank_text=True)


class RequestRefused(Exception):
    """A request the peer answers with a SOAP client fault."""


def parse_envelope(body: bytes) -> etree._Element:
    """The first element of the SOAP body; DOCTYPE, other envelopes and junk are refused."""
    try:
        root = etree.fromstring(body, safe_parser())
    except etree.XMLSyntaxError:
        raise RequestRefused("malformed XML") from None
    if root.getroottree().docinfo.doctype:
        raise RequestRefused("DOCTYPE not allowed")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise RequestRefused("not a SOAP 1.1 envelope")
    body_el = root.find(f"{{{SOAP_ENV}}}Body")
    if body_el is None or len(body_el) == 0:
        raise RequestRefused("empty SOAP body")
    return body_el[0]


S = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV})
T = ElementMaker(namespace=NS, nsmap={"tns": NS})


def envelope(payload: etree._Element) -> bytes:
    return etree.tostring(S.Envelope(S.Body(payload)), xml_declaration=True, encoding="utf-8")


def fault(code: str, message: str) -> bytes:
    return envelope(_fault_el(code, message))


def _fault_el(code: str, message: str) -> etree._Element:
    el = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(el, "faultcode").text = f"soap:{code}"
    etree.SubElement(el, "faultstring").text = message
    return el


def _text(el: etree._Element, path: str) -> str:
    found = el.find(path, {"t": NS})
    if found is None or found.text is None:
        raise RequestRefused(f"missing {path.replace('t:', '')}")
    return found.text


def answer_check(request: etree._Element, register: Register) -> etree._Element:
    """CheckAddressRequest → CheckAddressResponse from the register."""
    request_id = _text(request, "t:RequestId")
    key = key_of(_text(request, "t:Person/t:FamilyName"), _text(request, "t:Person/t:FirstNames"),
                 _text(request, "t:Person/t:BirthDate"))
    asked = tuple(_text(request, f"t:Address/t:{n}")
                  for n in ("Street", "HouseNumber", "Postcode", "City"))
    found = register.get(key, [])
    moved_on, address = None, None
    if not found:
        code = ResultCode.NOT_FOUND
    elif len(found) > 1:
        code = ResultCode.AMBIGUOUS
    elif found[0].status == "blocked":
        code = ResultCode.INFORMATION_BLOCKED
    elif found[0].status == "moved_away":
        code, moved_on = ResultCode.MOVED_AWAY, found[0].moved_on
    elif norm(found[0].address) == norm(asked):  # type: ignore[arg-type]
        code = ResultCode.REGISTERED
    else:
        code, address = ResultCode.MOVED_WITHIN_DRESDEN, found[0].address
    out = T.CheckAddressResponse(T.RequestId(request_id), T.ResultCode(code.value))
    if moved_on is not None:
        out.append(T.MovedOn(moved_on.isoformat()))
    if address is not None:
        out.append(T.RegisteredAddress(T.Street(address[0]), T.HouseNumber(address[1]),
                                       T.Postcode(address[2]), T.City(address[3])))
    out.append(T.CheckedAt(datetime.now(UTC).isoformat(timespec="seconds")))
    return out


class MesoService:
    """The ASGI application: register, credentials, programmed faults and counters."""

    def __init__(self, register: Register, username: str | None = None,
                 password: str | None = None) -> None:
        self.register = register
        self.username, self.password = username, password
        self._faults: list[list[Any]] = []  # [mode, remaining, delay]
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.requests: list[bytes] = []  # raw request bodies (tests: field contract, C5)
        self.keep_requests = True

    def fail(self, mode: str, times: int = 1, delay: float = 0.0) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"fault mode: one of {', '.join(FAULT_MODES)}, got {mode!r}")
        with self._lock:
            self._faults.append([mode, times, delay])

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.calls.clear()
            self.requests.clear()

    def _next_fault(self) -> tuple[str, float] | None:
        with self._lock:
            for rule in self._faults:
                if rule[1] > 0:
                    rule[1] -= 1
                    return rule[0], rule[2]
        return None

    def _authorised(self, headers: dict[str, str], operation: etree._Element) -> bool:
        if self.username is None:
            return True
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if headers.get("authorization") == f"Basic {expected}":
            return True
        root = operation.getroottree()
        user = root.find(f".//{{{WSSE}}}Username")
        word = root.find(f".//{{{WSSE}}}Password")
        return (user is not None and word is not None and user.text == self.username
                and word.text == self.password)

    def handle(self, method: str, query: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, bytes]:
        """One request → (status, body); all the SOAP work, no I/O."""
        if method == "GET" and query.lower() == "wsdl":
            return 200, wsdl_path().read_bytes()
        if method != "POST":
            return 405, b"POST a SOAP 1.1 envelope"
        if len(body) > MAX_BODY:
            return 413, fault("Client", "request too large")
        if self.keep_requests:
            self.requests.append(body)
        try:
            operation = parse_envelope(body)
            if not self._authorised(headers, operation):
                return 401, fault("Client", "authentication failed")
            if operation.tag == f"{{{NS}}}CheckAddressRequest":
                self.calls["check"] += 1
                return 200, envelope(answer_check(operation, self.register))
            if operation.tag == f"{{{NS}}}PingRequest":
                self.calls["ping"] += 1
                return 200, envelope(T.PingResponse(T.ContractVersion(CONTRACT_VERSION),
                                                    T.Registry("sandbox")))
            raise RequestRefused(f"unknown operation {etree.QName(operation).localname}")
        except RequestRefused as exc:
            return 500, fault("Client", str(exc))

    @staticmethod
    def faulty(mode: str) -> tuple[int, bytes]:
        if mode == "soap_fault":
            return 500, fault("Server", "registry temporarily unavailable")
        if mode == "client_fault":
            return 500, fault("Client", "request rejected by the registry")
        if mode == "http500":
            return 500, b"Internal Server Error"
        if mode == "malformed":
            return 200, b"<?xml version='1.0'?><soap:Envelope xmlns:soap='" + \
                SOAP_ENV.encode() + b"'><soap:Body><unclosed>"
        if mode in ("doctype", "entities"):
            return 200, (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
                         b'<soap:Envelope xmlns:soap="' + SOAP_ENV.encode() +
                         b'"><soap:Body>&e;</soap:Body></soap:Envelope>')
        # wrong_ns: a well-formed answer in a namespace the contract does not know
        other = ElementMaker(namespace="urn:other:registry", nsmap={"o": "urn:other:registry"})
        return 200, envelope(other.CheckAddressResponse(other.ResultCode("01")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY + 1:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        programmed = self._next_fault() if scope["method"] == "POST" else None
        if programmed is not None and programmed[0] == "slow":
            await asyncio.sleep(programmed[1])
            programmed = None
        if programmed is not None:
            status, out = self.faulty(programmed[0])
        else:
            status, out = self.handle(scope["method"], scope["query_string"].decode(), headers,
                                      b"".join(chunks))
        kind = b"text/plain" if out[:1] != b"<" else b"text/xml; charset=utf-8"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind),
                                (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


class MesoPeer(ThreadedAsgiPeer):
    """The service on uvicorn in a background thread, on a free localhost port."""

    def __init__(self, register: Register, host: str = "127.0.0.1", port: int = 0,
                 username: str | None = None, password: str | None = None) -> None:
        self.service = MesoService(register, username, password)
        super().__init__(self.service, name="MESO", host=host, port=port)

    @property
    def url(self) -> str:
        return f"{self.base_url}/meso"


def serve(register: Register, host: str, port: int, username: str | None = None,
          password: str | None = None) -> None:
    """Run in the foreground (``ekita-hub peer meso``) until interrupted."""
    service = MesoService(register, username, password)
    service.keep_requests = False
    uvicorn.run(service, host=host, port=port, log_level="warning", lifespan="off",
                access_log=False)


def main(argv: list[str] | None = None) -> int:
    """``python -m ekita.plugins.meso.peer --synthetic N`` (the benchmark's peer process)."""
    import argparse

    from ekita.plugins.meso.register import synthetic

    parser = argparse.ArgumentParser(prog="python -m ekita.plugins.meso.peer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8710)
    parser.add_argument("--synthetic", type=int, default=1000)
    args = parser.parse_args(argv)
    serve(synthetic(args.synthetic), args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
