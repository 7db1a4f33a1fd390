"""Delivering over HTTP: the send and the answer's class.

The idempotency key travels in the ``Idempotency-Key`` header, so a peer that
deduplicates applies a repeated attempt once. Every call goes through ``ekita.hub.peers``:
the adapter's ``timeout_s`` is the *total* deadline of the attempt (connect plus every
read) and the answer is capped at ``MAX_ANSWER_BYTES`` (issue 12 item 5: a dripping,
hanging or flooding peer never holds a worker). Deadlines and connection errors are
transient, an answer over the cap permanent; HTTP answers are classified by the adapter's
``retry.retryable_status``.
Adapters with their own answer format (DOMEA's acknowledgements) use ``send`` and read
the response themselves; the rest use ``receipt`` or ``post_json``.
"""

from __future__ import annotations

from typing import Any

import httpx

from ekita.core.outbox import payload_bytes
from ekita.hub import peers
from ekita.hub.delivery.errors import MalformedAnswer, PermanentError, TransientError
from ekita.hub.registrations import Delivery, DeliveryReceipt

MAX_ANSWER_BYTES = 1024 * 1024  # receipts and acknowledgements are a few KiB


def send(url: str, delivery: Delivery, *, content: bytes, content_type: str,
         headers: dict[str, str] | None = None, method: str = "POST") -> httpx.Response:
    """One attempt within ``delivery.timeout_s`` in total; the answer read and capped.

    A deadline or a failed connection is a ``TransientError``, an answer over the cap a
    ``PermanentError``; the returned response is complete (``.content`` is in memory).
    """
    answer = peers.call(
        method, url, peer=delivery.adapter, deadline_s=delivery.timeout_s,
        max_bytes=MAX_ANSWER_BYTES, content=content,
        headers={"Content-Type": content_type, "Idempotency-Key": delivery.idempotency_key,
                 **(headers or {})})
    return answer.response()


def get(url: str, delivery: Delivery) -> httpx.Response:
    """A bounded, capped GET (the "did this key take effect?" check before a resend)."""
    answer = peers.call("GET", url, peer=delivery.adapter, deadline_s=delivery.timeout_s,
                        max_bytes=MAX_ANSWER_BYTES)
    return answer.response()


def json_of(response: httpx.Response, peer: str) -> Any:
    """The answer as JSON, ``None`` when it is not JSON or nested absurdly deep."""
    try:
        return peers.parse_json(response.content, peer)
    except MalformedAnswer:
        return None


def _error_detail(response: httpx.Response) -> str:
    body = json_of(response, "peer")
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
