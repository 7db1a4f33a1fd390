"""httpx client for a KIS REST service (hub-defined contract, interfaces.md §4).

``GET /v1/streets?prefix=&limit=`` → ``[{street_key, name, postcode, stadtteil}]``;
``GET /v1/addresses/resolve?street=&house_no=&postcode=&town=`` → an ``Assignment`` as JSON,
or 404 ``{"reason": "unknown_street" | "outside_dresden" | …}``;
``GET /v1/health`` → ``{"contract": "1.0", "source_version": …}``.
One keep-alive client per process and base URL; errors end as ``KisUnavailable``.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from ekita.plugins.kis.directory import Assignment, Unresolved

CONTRACT_VERSION = "1.0"
_clients: dict[tuple[str, float], httpx.Client] = {}
_lock = threading.Lock()


class KisUnavailable(Exception):
    """The service did not answer usefully (timeout, 5xx, junk); callers fall back."""


def client_for(url: str, timeout_s: float) -> httpx.Client:
    with _lock:
        c = _clients.get((url, timeout_s))
        if c is None:
            c = _clients[(url, timeout_s)] = httpx.Client(base_url=url, timeout=timeout_s)
        return c


def _get(url: str, timeout_s: float, path: str, params: dict[str, Any]) -> httpx.Response:
    try:
        response = client_for(url, timeout_s).get(path, params=params)
    except httpx.HTTPError as exc:
        raise KisUnavailable(f"kis: {type(exc).__name__} at {url}") from None
    if response.status_code >= 500:
        raise KisUnavailable(f"kis: HTTP {response.status_code} from {url}")
    return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise KisUnavailable("kis: answer is not JSON") from None


def suggest(url: str, timeout_s: float, prefix: str, limit: int = 20) -> list[dict[str, str]]:
    response = _get(url, timeout_s, "/v1/streets", {"prefix": prefix, "limit": limit})
    data = _json(response)
    if response.status_code != 200 or not isinstance(data, list):
        raise KisUnavailable(f"kis: unexpected answer to a street search (HTTP "
                             f"{response.status_code})")
    return [{k: str(item[k]) for k in ("street_key", "name", "postcode", "stadtteil")}
            for item in data]


def resolve(url: str, timeout_s: float, street: str | None, house_no: str | None,
            postcode: str | None, town: str | None) -> Assignment:
    response = _get(url, timeout_s, "/v1/addresses/resolve", {
        "street": street or "", "house_no": house_no or "", "postcode": postcode or "",
        "town": town or ""})
    data = _json(response)
    if response.status_code == 404 and isinstance(data, dict) and "reason" in data:
        raise Unresolved(str(data["reason"]))
    if response.status_code != 200 or not isinstance(data, dict):
        raise KisUnavailable(f"kis: HTTP {response.status_code} to an address resolve")
    try:
        return Assignment(**{k: str(data[k]) for k in Assignment.__dataclass_fields__})
    except KeyError as exc:
        raise KisUnavailable(f"kis: answer without {exc.args[0]}") from None


def health(url: str, timeout_s: float = 1.0) -> str:
    data = _json(_get(url, timeout_s, "/v1/health", {}))
    return str(data.get("contract")) if isinstance(data, dict) else "?"
