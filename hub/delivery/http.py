"""Delivering over HTTP: one keep-alive client per process, the send, the answer's class.

The idempotency key travels in the ``Idempotency-Key`` header, so a peer that
deduplicates applies a repeated attempt once. Timeouts and connection errors are
transient; HTTP answers are classified by the adapter's ``retry.retryable_status``.
Adapters with their own answer format (DOMEA's acknowledgements) use ``send`` and read
the response themselves; the rest use ``receipt`` or ``post_json``.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from ekita.core.outbox import payload_bytes
from ekita.hub.delivery.errors import PermanentError, TransientError
from ekita.hub.registrations import Delivery, DeliveryReceipt

_lock = threading.Lock()
_client: httpx.Client | None = None


def shared_client() -> httpx.Client:
    """One keep-alive client per process (httpx clients are thread-safe)."""
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client()
        return _client


def send(url: str, delivery: Delivery, *, content: bytes, content_type: str,
         headers: dict[str, str] | None = None) -> httpx.Response:
    """POST one attempt; a timeout or a failed connection is a ``TransientError``."""
    try:
        return shared_client().post(
            url, content=content, timeout=delivery.timeout_s,
            headers={"Content-Type": content_type,
                     "Idempotency-Key": delivery.idempotency_key, **(headers or {})})
    except httpx.TimeoutException as exc:
        raise TransientError(f"timeout after {delivery.timeout_s:g} s ({type(exc).__name__})"
                             ) from None
    except httpx.TransportError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__})") from None


def _error_detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    return str(body.get("error", ""))[:200] if isinstance(body, dict) else ""


def receipt(response: httpx.Response, url: str, delivery: Delivery) -> DeliveryReceipt:
    """Success: the receipt (``X-Reference``); a retryable status: transient; else
    permanent, with the peer's ``error`` text when it sent one."""
    if response.is_success:
        return DeliveryReceipt(recipient=url, reference=response.headers.get("X-Reference"))
    reason = f"HTTP {response.status_code} from {url}"
    if response.status_code in delivery.retryable_status:
        raise TransientError(reason)
    detail = _error_detail(response)
    raise PermanentError(f"{reason}: {detail}" if detail else reason)


def post_json(url: str, delivery: Delivery) -> DeliveryReceipt:
    """The message's payload as JSON to ``url``."""
    response = send(url, delivery, content=payload_bytes(delivery.payload),
                    content_type="application/json")
    return receipt(response, url, delivery)
