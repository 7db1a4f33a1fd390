"""httpx client for a KIS REST service (hub-defined contract, interfaces.md §4).

``GET /v1/streets?prefix=&limit=`` → ``[{street_key, name, postcode, stadtteil}]``;
``GET /v1/addresses/resolve?street=&house_no=&postcode=&town=`` → an ``Assignment`` as JSON,
or 404 ``{"reason": "unknown_street" | "outside_dresden" | …}``;
``GET /v1/health`` → ``{"contract": "1.0", "source_version": …}``.
Every call goes through ``ekita.hub.peers`` (total deadline ``timeout_s``, answers capped
at ``MAX_ANSWER_BYTES``, JSON depth-checked); a slow, hanging, flooding peer or an answer
of the wrong shape (wrong types, missing keys) ends as ``KisUnavailable`` with a reason
naming no address (issue 12 item 5), never as another exception.
"""

from __future__ import annotations

from typing import Any

from ekita.hub import peers
from ekita.hub.delivery.errors import DeliveryError
from ekita.plugins.kis.directory import Assignment, Unresolved

CONTRACT_VERSION = "1.0"
MAX_ANSWER_BYTES = 512 * 1024  # 100 street suggestions are under 20 KiB
STREET_KEYS = ("street_key", "name", "postcode", "stadtteil")
REASONS = frozenset({"unknown_street", "outside_dresden", "incomplete_address"})


class KisUnavailable(Exception):
    """The service did not answer usefully (timeout, 5xx, junk); callers fall back."""


def _get(url: str, timeout_s: float, path: str, params: dict[str, Any]) -> peers.Answer:
    try:
        answer = peers.call("GET", f"{url.rstrip('/')}{path}", peer="kis", deadline_s=timeout_s,
                            max_bytes=MAX_ANSWER_BYTES, params=params)
    except DeliveryError as exc:
        raise KisUnavailable(str(exc)) from None
    if answer.status_code >= 500:
        raise KisUnavailable(f"kis: HTTP {answer.status_code} from {answer.url}")
    return answer


def _json(answer: peers.Answer) -> Any:
    try:
        return answer.json()
    except DeliveryError as exc:
        raise KisUnavailable(str(exc)) from None


def _text(item: Any, key: str, limit: int = 200) -> str:
    """One string field of an answer object; numbers are accepted, anything else is junk."""
    value = item.get(key) if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise KisUnavailable(f"kis: answer without a text {key!r}")
    return str(value)[:limit]


def suggest(url: str, timeout_s: float, prefix: str, limit: int = 20) -> list[dict[str, str]]:
    answer = _get(url, timeout_s, "/v1/streets", {"prefix": prefix, "limit": limit})
    data = _json(answer)
    if answer.status_code != 200 or not isinstance(data, list):
        raise KisUnavailable(f"kis: unexpected answer to a street search (HTTP "
                             f"{answer.status_code})")
    return [{k: _text(item, k) for k in STREET_KEYS} for item in data[:limit]]


def resolve(url: str, timeout_s: float, street: str | None, house_no: str | None,
            postcode: str | None, town: str | None) -> Assignment:
    answer = _get(url, timeout_s, "/v1/addresses/resolve", {
        "street": street or "", "house_no": house_no or "", "postcode": postcode or "",
        "town": town or ""})
    data = _json(answer)
    if answer.status_code == 404 and isinstance(data, dict) and "reason" in data:
        reason = _text(data, "reason", 40)
        raise Unresolved(reason if reason in REASONS else "unknown_street")
    if answer.status_code != 200 or not isinstance(data, dict):
        raise KisUnavailable(f"kis: HTTP {answer.status_code} to an address resolve")
    return Assignment(**{k: _text(data, k, 80) for k in Assignment.__dataclass_fields__})


def health(url: str, timeout_s: float = 1.0) -> str:
    data = _json(_get(url, timeout_s, "/v1/health", {}))
    return str(data.get("contract"))[:20] if isinstance(data, dict) else "?"
