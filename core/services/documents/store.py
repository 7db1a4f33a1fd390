"""The internal document store (Lastenheft 3.16): content-addressed bytes in the database.

Chosen over a directory because the bytes then commit or roll back with their metadata
(one transaction per filing), are backed up with the database, and are protected by the
same append-only triggers (migration 0010) as the metadata; identical content is stored
once. The DOMEA adapter reads them by hash through a plain connection (no ORM session).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ekita.core.db.conflict import insert_ignoring
from ekita.core.errors import NotFound, RuleViolation
from ekita.core.models.documents import DocumentContent

#: Upload cap (interfaces.md §2 rule 5: file-size caps; issue 12 item 6): the ceiling of
#: every stored document. The API reads uploads under ``input_caps.document`` (default the
#: same), counting bytes as they arrive, so an oversized upload never reaches this point.
MAX_BYTES = 20 * 1024 * 1024
RULE_CAP = "issue 12: input size cap"
T = DocumentContent.__table__


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(session: Session, data: bytes) -> str:
    """Store bytes once; returns their sha256 (an existing hash is left untouched)."""
    if not data:
        raise RuleViolation("the document is empty", record="document", field="content",
                            rule="a filed document has content")
    if len(data) > MAX_BYTES:
        raise RuleViolation(f"file larger than {MAX_BYTES // (1024 * 1024)} MB",
                            record="document", field="size", rule=RULE_CAP)
    digest = sha256(data)
    session.execute(insert_ignoring(T, ("sha256", "size", "data"), ("sha256",)),
                    {"sha256": digest, "size": len(data), "data": data})
    return digest


def get(bind: Session | Connection, digest: str) -> bytes:
    """The stored bytes, checked against their hash (a changed byte is detected)."""
    data = bind.execute(select(T.c.data).where(T.c.sha256 == digest)).scalar()
    if data is None:
        raise NotFound(f"no stored content {digest}", record="document_content", field="sha256",
                       rule="exists in the store")
    if sha256(bytes(data)) != digest:
        raise RuleViolation(f"stored content {digest} does not match its hash",
                            record="document_content", field="data",
                            rule="data-protection D5: stored unaltered")
    return bytes(data)
