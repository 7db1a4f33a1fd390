"""The ``domea`` adapter: turns outbox messages into xdomea containers and files them.

Operations (enqueued by ``ekita.core.services.documents.family_file``):

- ``create_file`` → 0604 SGOErstellen for the family's Akte;
- ``file_document`` → 0605 SGOAblegen with the stored PDF/A as primary file;
- ``update_file`` → 0610 MetadatenAktualisieren (status after archive/reactivate);
- ``add_metadata`` → 0609 MetadatenAnlegen (fields added to a filed object).

The outbox payload only references the stored objects; the adapter reads them from the
hub database, builds the message, validates it against xdomea 3.0.0 (invalid: our bug,
``PermanentError``), packs the container and POSTs it with the idempotency key. The DMS
answers with 0629/0630; a failed 0630 or a rejection is permanent (dead letter with the
DMS's reasons), the DMS id of a successful 0630 is recorded in ``document_dms_ref``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from ekita.core.db.base import as_utc
from ekita.core.db.conflict import insert_ignoring
from ekita.core.models.documents import DocumentDmsRef, FamilyFile, FiledDocument
from ekita.core.services.documents import store
from ekita.hub.delivery.errors import PermanentError, TransientError
from ekita.hub.delivery.http import json_of, send
from ekita.hub.registrations import AdapterSettings, Delivery, DeliveryReceipt
from ekita.plugins.domea import container, messages
from ekita.plugins.domea.ids import process_uuid
from ekita.plugins.domea.xml import XmlRefused, validate

PATH = "/xdomea"
REF_COLUMNS = ("object_uuid", "dms_id", "imported", "detail", "acknowledged_at")


class DomeaSettings(AdapterSettings):
    """``[adapters.domea.settings]``."""

    url: str = "http://127.0.0.1:8790"  # the DMS's xdomea endpoint base (containers to /xdomea)
    database_url: str | None = None  # the hub database with the store; default: the hub's
    sender: str = messages.Parties.sender
    recipient: str = messages.Parties.recipient
    recipient_system: str = messages.Parties.recipient_system
    creator: str = messages.Parties.creator
    receipt_wanted: bool = False  # ask for 0629 as well (xdomea's recommended default: no)


_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def _engine(settings: DomeaSettings) -> Engine:
    from ekita.core.db.session import make_engine
    from ekita.hub.config import load_settings

    url = settings.database_url or load_settings().database_url
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def _parties(settings: DomeaSettings) -> messages.Parties:
    return messages.Parties(sender=settings.sender, recipient=settings.recipient,
                            recipient_system=settings.recipient_system,
                            creator=settings.creator, receipt_wanted=settings.receipt_wanted)


def _file_info(conn: Any, file_uuid: str) -> messages.FileInfo:
    row = conn.execute(select(FamilyFile.__table__).where(
        FamilyFile.__table__.c.uuid == file_uuid)).mappings().first()
    if row is None:
        raise PermanentError(f"family file {file_uuid} is not in the store")
    return messages.FileInfo(row["uuid"], row["file_key"], str(row["status"]))


def build(delivery: Delivery, settings: DomeaSettings, conn: Connection
          ) -> tuple[str, container.Container]:
    """The message's ProzessID and container, validated against xdomea 3.0.0."""
    payload = delivery.payload or {}
    parties = _parties(settings)
    now = datetime.now(UTC)
    if delivery.operation == "create_file":
        file = _file_info(conn, payload["family_file_uuid"])
        code, process_id = "0604", process_uuid("0604", file.uuid)
        xml, primaries = messages.create_file(process_id, file, parties, now), {}
    elif delivery.operation == "file_document":
        file = _file_info(conn, payload["family_file_uuid"])
        doc, content = _document(conn, payload["document_uuid"])
        code, process_id = "0605", process_uuid("0605", doc.uuid)
        xml = messages.file_document(process_id, file, doc, parties, now)
        primaries = {doc.file_name: content}
    elif delivery.operation in ("update_file", "add_metadata"):
        code = "0610" if delivery.operation == "update_file" else "0609"
        object_uuid = payload.get("family_file_uuid") or payload["object_uuid"]
        values = ({"Status": payload["status"],
                   "Archivierungsdatum": payload.get("archived_on") or ""}
                  if code == "0610" else dict(payload["values"]))
        process_id = process_uuid(code, object_uuid, int(payload.get("revision", 0)))
        xml, primaries = messages.metadata(code, process_id, object_uuid, values, parties,
                                           now), {}
    else:
        raise PermanentError(f"unknown domea operation {delivery.operation!r}")
    try:
        validate(xml)
    except XmlRefused as exc:
        raise PermanentError(f"built message is not valid xdomea: {exc}") from None
    return process_id, container.pack(process_id, code, xml, primaries)


def _document(conn: Any, doc_uuid: str) -> tuple[messages.DocumentInfo, bytes]:
    t = FiledDocument.__table__
    row = conn.execute(select(t).where(t.c.uuid == doc_uuid)).mappings().first()
    if row is None:
        raise PermanentError(f"document {doc_uuid} is not in the store")
    content = store.get(conn, row["sha256"])
    filed_at = as_utc(row["filed_at"])
    info = messages.DocumentInfo(
        uuid=row["uuid"], business_key=row["business_key"], title=row["title"],
        doc_class=row["doc_class"], direction=str(row["direction"]),
        reference_date=row["reference_date"], file_name=f"{row['uuid']}_{row['file_name']}",
        original_name=row["file_name"], media_type=row["media_type"],
        created_by=row["created_by"], machine_generated=bool(row["machine_generated"]),
        retention=row["retention"], sha256=row["sha256"], filed_at=filed_at, pkn=row["pkn"],
        child_id=row["child_id"], cost_centre=row["cost_centre"],
        valid_from=row["valid_from"], valid_to=row["valid_to"],
        received_on=row["received_on"], statute_ref=row["statute_ref"])
    return info, content


def _acknowledgements(body: Any) -> list[messages.Acknowledgement]:
    acks = body.get("acknowledgements") if isinstance(body, dict) else None
    if not isinstance(acks, list):
        return []
    try:
        return [messages.parse_acknowledgement(str(a).encode()) for a in acks]
    except XmlRefused as exc:
        raise PermanentError(f"DMS answered with an invalid acknowledgement: {exc}") from None


def _record(conn: Connection, ack: messages.Acknowledgement) -> None:
    if ack.object_uuid is None:
        return
    conn.execute(insert_ignoring(DocumentDmsRef.__table__, REF_COLUMNS, ("object_uuid",)),
                 {"object_uuid": ack.object_uuid, "dms_id": ack.dms_id, "imported": True,
                  "detail": None, "acknowledged_at": datetime.now(UTC)})


def deliver(delivery: Delivery) -> DeliveryReceipt:
    """Build, validate, send one container; read the DMS's 0629/0630 answer."""
    settings: Any = delivery.settings
    # One connection per delivery: it reads the stored objects, ends that read transaction
    # before the DMS is called (issue 12 item 5), and records the DMS's answer.
    with _engine(settings).connect() as conn:
        receipt = _send(delivery, settings, conn)
        conn.commit()
    return receipt


def _send(delivery: Delivery, settings: Any, conn: Connection) -> DeliveryReceipt:
    _, packed = build(delivery, settings, conn)
    conn.rollback()  # only read so far: no transaction stays open while the DMS answers
    url = f"{settings.url.rstrip('/')}{PATH}"
    response = send(url, delivery, content=packed.data, content_type="application/zip",
                    headers={"X-Container-Name": packed.name})
    body = json_of(response, "domea")  # bounded, capped, depth-checked (issue 12 item 5)
    if response.status_code in delivery.retryable_status:
        raise TransientError(f"HTTP {response.status_code} from {url}")
    acks = _acknowledgements(body)
    failed = [a for a in acks if a.code == "0630" and not a.imported]
    if failed or not response.is_success:
        reasons = [r for a in failed for r in a.reasons]
        error = body.get("error") if isinstance(body, dict) else None
        detail = "; ".join([*([error] if error else []), *reasons]) or "no reason given"
        if response.status_code == 409:  # the Akte is not there yet: its 0604 is still queued
            raise TransientError(f"DMS: {detail}")
        raise PermanentError(f"DMS rejected {packed.name} (HTTP {response.status_code}): "
                             f"{detail}")
    imported = [a for a in acks if a.code == "0630"]
    if not imported:
        raise TransientError("DMS sent no 0630 import acknowledgement")
    for ack in imported:
        _record(conn, ack)
    return DeliveryReceipt(recipient=url, reference=imported[0].dms_id)
