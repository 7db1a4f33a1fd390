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

from ekita.hub.delivery.files import drop, file_name
from ekita.hub.delivery.http import get, json_of, receipt, send
from ekita.hub.registrations import Delivery, DeliveryReceipt


def to_drop_dir(directory: str, delivery: Delivery, document: bytes, suffix: str
                ) -> DeliveryReceipt:
    name = drop(directory, file_name(delivery.idempotency_key, suffix), document)
    return DeliveryReceipt(recipient=str(Path(directory)), reference=name)


def _already_taken(url: str, delivery: Delivery) -> str | None:
    """Ask the peer whether the key took effect; its reference if so, None otherwise.

    Bounded and capped like the send (issue 12 item 5); an unreadable 200 still means
    "taken", so nothing is sent twice."""
    answer = get(f"{url}/messages/{quote(delivery.idempotency_key, safe='')}", delivery)
    if answer.status_code == 200:
        body = json_of(answer, delivery.adapter)
        found = body.get("reference") if isinstance(body, dict) else None
        return str(found) if isinstance(found, str | int) and found else "already delivered"
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
