"""Getting a finished document to SAP: HTTP to the SAP peer, or a drop directory.

HTTP: the document travels in a small JSON envelope (``message_type``, ``filename``,
``document``) with the ``Idempotency-Key`` header, so the peer applies a repeat once;
on a retry (attempt > 1) the adapter first asks the peer ``GET /messages/{key}`` whether
the key took effect, and does not resend if it did (interfaces.md §2.2).

Drop directory: the file is written under a temporary name and renamed atomically to a
name derived from the idempotency key; an existing file of that name means the document
was delivered before, so nothing is written again ("check before resending").
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx

from ekita.hub.delivery.errors import TransientError
from ekita.hub.delivery.files import drop, file_name
from ekita.hub.delivery.http import receipt, send, shared_client
from ekita.hub.registrations import Delivery, DeliveryReceipt


def to_drop_dir(directory: str, delivery: Delivery, document: bytes, suffix: str
                ) -> DeliveryReceipt:
    name = drop(directory, file_name(delivery.idempotency_key, suffix), document)
    return DeliveryReceipt(recipient=str(Path(directory)), reference=name)


def _already_taken(url: str, delivery: Delivery) -> str | None:
    """Ask the peer whether the key took effect; its reference if so, None otherwise."""
    try:
        answer = shared_client().get(
            f"{url}/messages/{quote(delivery.idempotency_key, safe='')}",
            timeout=delivery.timeout_s)
    except httpx.HTTPError as exc:
        raise TransientError(f"peer not reachable for the check ({type(exc).__name__})"
                             ) from None
    if answer.status_code == 200:
        return str(answer.json().get("reference") or "already delivered")
    return None


def to_http(url: str, delivery: Delivery, message_type: str, document: bytes, suffix: str,
            encoding: str = "utf-8") -> DeliveryReceipt:
    if delivery.attempt > 1:
        reference = _already_taken(url, delivery)
        if reference is not None:
            return DeliveryReceipt(recipient=url, reference=reference)
    envelope = {"message_type": message_type,
                "filename": file_name(delivery.idempotency_key, suffix),
                "document": document.decode(encoding)}
    target = f"{url}/sap/{message_type.lower()}"
    response = send(target, delivery, content=json.dumps(envelope).encode(),
                    content_type="application/json")
    return receipt(response, target, delivery)
