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

import hashlib
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

import httpx

from ekita.hub.delivery.errors import PermanentError, TransientError
from ekita.hub.registrations import Delivery, DeliveryReceipt

_client: httpx.Client | None = None


def client() -> httpx.Client:
    """One keep-alive client per process."""
    global _client
    if _client is None:
        _client = httpx.Client()
    return _client


def file_name(idempotency_key: str, suffix: str) -> str:
    """A file name that is a pure function of the key (readable part plus a short hash)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", idempotency_key)[:120]
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"{readable}.{digest}.{suffix}"


def to_drop_dir(directory: str, delivery: Delivery, document: bytes, suffix: str
                ) -> DeliveryReceipt:
    target_dir = Path(directory)
    target = target_dir / file_name(delivery.idempotency_key, suffix)
    if target.exists():  # delivered before: the rename is the effect, and it happened
        return DeliveryReceipt(recipient=str(target_dir), reference=target.name)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".incoming-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(document)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise TransientError(f"drop directory not writable ({type(exc).__name__})") from None
    return DeliveryReceipt(recipient=str(target_dir), reference=target.name)


def _already_taken(url: str, delivery: Delivery) -> str | None:
    """Ask the peer whether the key took effect; its reference if so, None otherwise."""
    try:
        answer = client().get(f"{url}/messages/{quote(delivery.idempotency_key, safe='')}",
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
    try:
        response = client().post(target, json=envelope, timeout=delivery.timeout_s,
                                 headers={"Idempotency-Key": delivery.idempotency_key})
    except httpx.TimeoutException as exc:
        raise TransientError(f"timeout after {delivery.timeout_s:g} s ({type(exc).__name__})"
                             ) from None
    except httpx.TransportError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__})") from None
    if response.is_success:
        return DeliveryReceipt(recipient=target, reference=response.headers.get("X-Reference"))
    reason = f"HTTP {response.status_code} from {target}"
    if response.status_code in delivery.retryable_status:
        raise TransientError(reason)
    try:
        detail = str(response.json().get("error", ""))[:200]
    except ValueError:
        detail = ""
    raise PermanentError(f"{reason}: {detail}" if detail else reason)
