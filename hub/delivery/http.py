"""Delivering a message over HTTP, for adapters whose peer speaks JSON over HTTP.

The idempotency key travels in the ``Idempotency-Key`` header, so a peer that
deduplicates applies a repeated attempt once. Timeouts and connection errors are
transient; HTTP answers are classified by the adapter's ``retry.retryable_status``.
"""

from __future__ import annotations

import httpx

from ekita.core.outbox import payload_bytes
from ekita.hub.delivery.errors import PermanentError, TransientError
from ekita.hub.registrations import Delivery, DeliveryReceipt


def post_json(client: httpx.Client, url: str, delivery: Delivery) -> DeliveryReceipt:
    try:
        response = client.post(
            url, content=payload_bytes(delivery.payload), timeout=delivery.timeout_s,
            headers={"Content-Type": "application/json",
                     "Idempotency-Key": delivery.idempotency_key})
    except httpx.TimeoutException as exc:
        raise TransientError(f"timeout after {delivery.timeout_s:g} s ({type(exc).__name__})"
                             ) from None
    except httpx.TransportError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__})") from None
    if response.is_success:
        return DeliveryReceipt(recipient=url, reference=response.headers.get("X-Reference"))
    reason = f"HTTP {response.status_code} from {url}"
    if response.status_code in delivery.retryable_status:
        raise TransientError(reason)
    raise PermanentError(reason)
