"""The MESO SOAP client (zeep), one per process and timeout, hardened against hostile peers.

The WSDL and XSD come from the package, never from the network; zeep parses with
``forbid_dtd``, ``forbid_entities`` and ``forbid_external`` (data-protection SEC6) and
``strict`` schema checking, without ``huge_tree``. The HTTP goes through
``ekita.hub.peers`` (``PeerTransport``): the timeout is the *total* deadline of the call and
the answer is capped at ``MAX_ANSWER_BYTES`` (issue 12 item 5: a dripping, hanging or
flooding registry never holds a request or a worker). Every failure ends as
``TransientError`` (try again later) or ``PermanentError`` (the answer can never be right)
with a reason free of personal data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
import zeep
import zeep.exceptions
from requests.structures import CaseInsensitiveDict
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from ekita.hub import peers
from ekita.hub.delivery.errors import AnswerBreaksContract, PermanentError, TransientError
from ekita.plugins.meso.codes import NS, Purpose, ResultCode, wsdl_path
from ekita.plugins.meso.settings import MesoSettings

BINDING = f"{{{NS}}}AddressCheckBinding"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_ANSWER_BYTES = 256 * 1024  # a CheckAddress answer is well under 2 KiB


@dataclass(frozen=True)
class CheckResult:
    request_id: str
    code: ResultCode
    moved_on: date | None = None
    registered_address: dict[str, str] | None = None


_clients: dict[tuple[Any, ...], zeep.Client] = {}
_lock = threading.Lock()


def zeep_settings() -> zeep.Settings:
    return zeep.Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True,
                         strict=True, xml_huge_tree=False)


class PeerTransport(Transport):
    """zeep's transport with its POST through ``ekita.hub.peers``: total deadline, size cap.

    zeep hands the answer to its SOAP binding as a ``requests.Response``; one is built from
    the complete, capped body. The WSDL is a local file, so ``load`` never goes online.
    """

    def __init__(self, deadline_s: float, auth: tuple[str, str] | None = None) -> None:
        super().__init__(timeout=deadline_s, operation_timeout=deadline_s)
        self.deadline_s, self.auth = deadline_s, auth

    def post(self, address: str, message: bytes | str, headers: dict[str, str]
             ) -> requests.Response:
        body = message.encode() if isinstance(message, str) else message
        answer = peers.call("POST", address, peer="meso", deadline_s=self.deadline_s,
                            max_bytes=MAX_ANSWER_BYTES, content=body, headers=dict(headers),
                            auth=self.auth)
        reply = requests.Response()
        reply.status_code, reply.url = answer.status_code, answer.url
        reply.headers = CaseInsensitiveDict(answer.headers)
        reply._content = answer.content  # how requests keeps a read body
        reply.encoding = "utf-8"
        return reply


def client_for(settings: MesoSettings, timeout_s: float) -> zeep.Client:
    """The process's client for this endpoint and timeout (built once, then reused)."""
    if not settings.url:
        raise PermanentError("meso: no url configured ([adapters.meso.settings] url)")
    secret = settings.password.get_secret_value() if settings.password else ""
    key = (settings.url, settings.auth, settings.username, secret, timeout_s)
    with _lock:
        client = _clients.get(key)
        if client is None:
            basic = (settings.username or "", secret) if settings.auth == "basic" else None
            transport = PeerTransport(timeout_s, basic)
            wsse = UsernameToken(settings.username or "", secret) if settings.auth == "wsse" \
                else None
            client = zeep.Client(str(wsdl_path()), transport=transport,
                                 settings=zeep_settings(), wsse=wsse)
            _clients[key] = client
    return client


def service_of(client: zeep.Client, url: str) -> Any:
    return client.create_service(BINDING, url)


def request_of(request_id: str, purpose: Purpose, fields: dict[str, Any]) -> dict[str, Any]:
    """The SOAP body from the outbox payload; only the declared fields travel (C5)."""
    return {
        "RequestId": request_id, "Purpose": purpose.value,
        "Person": {"FamilyName": fields["family_name"], "FirstNames": fields["first_name"],
                   "BirthDate": date.fromisoformat(str(fields["birth_date"]))},
        "Address": {"Street": fields["street"], "HouseNumber": fields["house_no"],
                    "Postcode": fields["postcode"], "City": fields["town"]},
    }


def check(settings: MesoSettings, request_id: str, purpose: Purpose, fields: dict[str, Any],
          timeout_s: float) -> CheckResult:
    """One CheckAddress call within ``timeout_s`` in total; raises ``TransientError`` or
    ``PermanentError``, never anything else (a wrong answer is a contract error)."""
    service = service_of(client_for(settings, timeout_s), settings.url or "")
    with translate_errors(settings.url or ""):
        answer = service.CheckAddress(**request_of(request_id, purpose, fields))
        return result_of(answer, request_id)


def ping(settings: MesoSettings, timeout_s: float = 1.0) -> str:
    """The peer's contract version (health check), within ``timeout_s`` in total."""
    service = service_of(client_for(settings, timeout_s), settings.url or "")
    with translate_errors(settings.url or ""):
        return str(service.Ping().ContractVersion)[:40]


def result_of(answer: Any, request_id: str) -> CheckResult:
    if answer is None or getattr(answer, "ResultCode", None) is None:
        raise AnswerBreaksContract("meso: answer without ResultCode (wrong namespace or "
                                   "contract)")
    if answer.RequestId != request_id:
        raise AnswerBreaksContract("meso: answer for another request id")
    address = answer.RegisteredAddress
    return CheckResult(
        request_id=request_id, code=ResultCode(answer.ResultCode), moved_on=answer.MovedOn,
        registered_address=None if address is None else {
            "street": address.Street, "house_no": address.HouseNumber,
            "postcode": address.Postcode, "town": address.City})


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Map zeep, requests and XML errors to the delivery engine's two kinds."""
    try:
        yield
    except Exception as exc:
        raise classify(exc, url) from None


def classify(exc: BaseException, url: str) -> Exception:
    """The delivery error for one failure (reasons name no person)."""
    if isinstance(exc, TransientError | PermanentError):
        return exc
    if isinstance(exc, zeep.exceptions.Fault):
        code = str(exc.code or "")
        reason = f"meso: SOAP fault {code or '?'}: {str(exc.message)[:120]}"
        return PermanentError(reason) if code.endswith("Client") else TransientError(reason)
    if isinstance(exc, zeep.exceptions.TransportError):
        if exc.status_code < 400:  # zeep could not read a 2xx answer as SOAP
            return TransientError(f"meso: malformed XML in answer (HTTP {exc.status_code})")
        reason = f"meso: HTTP {exc.status_code} from {url}"
        return TransientError(reason) if exc.status_code in RETRYABLE_STATUS \
            else PermanentError(reason)
    if isinstance(exc, zeep.exceptions.DTDForbidden | zeep.exceptions.EntitiesForbidden
                  | zeep.exceptions.ExternalReferenceForbidden):
        return PermanentError(f"meso: refused answer with DOCTYPE or entities "
                              f"({type(exc).__name__}, SEC6)")
    if isinstance(exc, zeep.exceptions.XMLSyntaxError):
        return TransientError("meso: malformed XML in answer")
    if isinstance(exc, zeep.exceptions.ValidationError | zeep.exceptions.XMLParseError
                  | zeep.exceptions.UnexpectedElementError | zeep.exceptions.NamespaceError
                  | zeep.exceptions.LookupError | ValueError | AttributeError | TypeError
                  | KeyError):
        return AnswerBreaksContract(f"meso: answer breaks the contract ({type(exc).__name__})")
    return TransientError(f"meso: {type(exc).__name__}")
