"""The family's electronic file (Familienakte): filing, reading, archiving (3.7.4, 3.16, 3.17).

One file per family, keyed by the family number (the PKN's family part). Every generated
or received document is filed with its metadata (interfaces.md §7) and its content hash;
once filed it is never changed (data-protection D5; the database refuses UPDATE/DELETE).
Filing is idempotent by business key, so a repeated job or request files nothing twice.
For tenants filing into DOMEA, the same transaction enqueues the xdomea messages for the
``domea`` adapter (0604 for a new file, 0605 per document, 0610 on archive/reactivate).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.errors import Conflict, NotFound, RuleViolation
from ekita.core.models import CareContract, Child, Family
from ekita.core.models.documents import Direction, FamilyFile, FiledDocument, FileStatus
from ekita.core.models.placement import Application, ApplicationState
from ekita.core.outbox import enqueue
from ekita.core.services.base import load, require
from ekita.core.services.documents import store

Store = Literal["internal", "domea"]
ADAPTER = "domea"
#: The hub's namespace for object ids that leave it (xdomea Akte and Dokument UUIDs).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ekita-hub:dresden:xdomea")
#: Default retention class (data-protection D1: five years after the child left).
DEFAULT_RETENTION = "D1:5y-after-care"


def family_file_uuid(file_key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"akte:{file_key}"))


def document_uuid(business_key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"dokument:{business_key}"))


def store_for(configured: dict[str, str], tenant: str) -> Store:
    """The store a tenant files into (3.16): configured per tenant, internal by default."""
    return "domea" if configured.get(tenant) == "domea" else "internal"


@dataclass(frozen=True)
class Filing:
    """A document to file, with the metadata of interfaces.md §7."""

    family_id: int
    business_key: str  # what makes this document unique, e.g. "fee:2027-03:12345601:v1"
    doc_class: str
    title: str
    file_name: str
    media_type: str
    direction: Direction
    reference_date: date
    machine_generated: bool
    child_id: int | None = None
    pkn: str | None = None
    cost_centre: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    received_on: date | None = None
    statute_ref: str | None = None
    template_id: int | None = None
    retention: str = DEFAULT_RETENTION
    extra: dict[str, str] = field(default_factory=dict)


def _file(session: Session, family: Family, tenant: str) -> tuple[FamilyFile, bool]:
    found = session.scalars(select(FamilyFile).where(FamilyFile.family_id == family.id)).first()
    if found is not None:
        return found, False
    created = FamilyFile(family_id=family.id, file_key=family.number,
                         uuid=family_file_uuid(family.number), tenant=tenant,
                         status=FileStatus.ACTIVE)
    session.add(created)
    session.flush()
    return created, True


def _announce_file(session: Session, file: FamilyFile) -> None:
    """0604 for the family's Akte; its key makes every later call a no-op."""
    enqueue(session, adapter=ADAPTER, operation="create_file", business_key=file.uuid,
            payload={"family_file_uuid": file.uuid, "family_number": file.file_key},
            payload_ref=f"family_file:{file.uuid}")


def file_document(session: Session, filing: Filing, content: bytes, *, tenant: str = "city",
                  target: Store = "internal") -> tuple[FiledDocument, bool]:
    """File one document; returns it and whether it is new (a known business key is kept).

    The same business key with other content is a conflict: a filed document is never
    replaced (D5); file a correction under a new key instead.
    """
    principal = require(session, Permission.DOCUMENTS_WRITE)
    family = load(session, Family, filing.family_id, field="family_id")
    digest = store.sha256(content)
    existing = session.scalars(select(FiledDocument).where(
        FiledDocument.business_key == filing.business_key)).first()
    if existing is not None:
        if existing.sha256 != digest and not filing.machine_generated:
            raise Conflict(f"document {filing.business_key!r} is filed with other content",
                           record="filed_document", field="business_key",
                           rule="data-protection D5: filed documents are never replaced")
        return existing, False
    if filing.child_id is not None:
        child = load(session, Child, filing.child_id, field="child_id")
        if child.family_id != family.id:
            raise RuleViolation(f"child {child.id} is not in family {family.id}",
                                record="filed_document", field="child_id",
                                rule="Lastenheft 3.7.4: one file per family")
    file, _ = _file(session, family, tenant)
    if file.status is FileStatus.ARCHIVED:
        raise Conflict(f"family file {file.file_key} is archived; reactivate it first",
                       record="family_file", field="status", rule="Lastenheft 3.17")
    store.put(session, content)
    doc = FiledDocument(
        uuid=document_uuid(filing.business_key), family_file_id=file.id,
        doc_class=filing.doc_class, title=filing.title, direction=filing.direction,
        pkn=filing.pkn, child_id=filing.child_id, cost_centre=filing.cost_centre,
        valid_from=filing.valid_from, valid_to=filing.valid_to,
        reference_date=filing.reference_date, received_on=filing.received_on,
        statute_ref=filing.statute_ref, template_id=filing.template_id,
        created_by=principal.name, machine_generated=filing.machine_generated,
        retention=filing.retention, file_name=filing.file_name, media_type=filing.media_type,
        sha256=digest, size=len(content), business_key=filing.business_key)
    session.add(doc)
    session.flush()
    if target == "domea":
        _announce_file(session, file)
        payload: dict[str, str] = {"document_uuid": doc.uuid, "family_file_uuid": file.uuid}
        if doc.pkn:
            payload["pkn"] = doc.pkn
        enqueue(session, adapter=ADAPTER, operation="file_document", business_key=doc.uuid,
                payload=payload, payload_ref=f"filed_document:{doc.uuid}")
    return doc, True


def family_file(session: Session, family_id: int) -> FamilyFile:
    require(session, Permission.DOCUMENTS_READ)
    load(session, Family, family_id, field="family_id")
    found = session.scalars(select(FamilyFile).where(FamilyFile.family_id == family_id)).first()
    if found is None:
        raise NotFound(f"family {family_id} has no file yet", record="family_file",
                       field="family_id", rule="created with the first filed document")
    return found


def documents(session: Session, family_id: int) -> list[FiledDocument]:
    file = family_file(session, family_id)
    return list(session.scalars(select(FiledDocument).where(
        FiledDocument.family_file_id == file.id).order_by(FiledDocument.id)))


def document(session: Session, document_id: int) -> FiledDocument:
    require(session, Permission.DOCUMENTS_READ)
    return load(session, FiledDocument, document_id)


def content(session: Session, document_id: int) -> tuple[FiledDocument, bytes]:
    doc = document(session, document_id)
    return doc, store.get(session, doc.sha256)


def _in_care(session: Session, family_id: int, on: date) -> bool:
    return bool(session.scalar(select(exists().where(
        CareContract.child_id == Child.id, Child.family_id == family_id,
        CareContract.start_date <= on,
        or_(CareContract.end_date.is_(None), CareContract.end_date >= on)))))


def _open_processes(session: Session, family_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        Application.family_id == family_id, Application.state != ApplicationState.INACTIVE))))


def _announce_status(session: Session, file: FamilyFile, target: Store, revision: int) -> None:
    if target != "domea":
        return
    _announce_file(session, file)
    enqueue(session, adapter=ADAPTER, operation="update_file", business_key=file.uuid,
            idempotency_key=f"{ADAPTER}:update_file:{file.uuid}:{revision}",
            payload={"family_file_uuid": file.uuid, "status": file.status.value,
                     "revision": revision,
                     "archived_on": file.archived_on.isoformat() if file.archived_on else None},
            payload_ref=f"family_file:{file.uuid}")


def _revision(session: Session, file: FamilyFile) -> int:
    """How many status changes the file had (the audit trail counts them)."""
    from ekita.core.models.audit import AuditEvent

    return len(session.scalars(select(AuditEvent.id).where(
        AuditEvent.entity == "family_file", AuditEvent.entity_id == file.id)).all())


def archive(session: Session, family_id: int, on: date, *, target: Store = "internal"
            ) -> FamilyFile:
    """Business archiving (3.17): only when no child is in care and no process is open."""
    require(session, Permission.DOCUMENTS_WRITE)
    file = family_file(session, family_id)
    if file.status is FileStatus.ARCHIVED:
        raise Conflict(f"family file {file.file_key} is archived already", record="family_file",
                       field="status", rule="Lastenheft 3.17")
    if _in_care(session, family_id, on):
        raise RuleViolation("a child of the family is in care", record="family_file",
                            field="status", rule="Lastenheft 3.17: archive when no child is "
                                                 "in care")
    if _open_processes(session, family_id):
        raise RuleViolation("the family has an open application", record="family_file",
                            field="status", rule="Lastenheft 3.17: archive when the "
                                                 "processes are closed")
    file.status = FileStatus.ARCHIVED
    file.archived_on = on
    session.flush()
    _announce_status(session, file, target, _revision(session, file))
    return file


def reactivate(session: Session, family_id: int, *, target: Store = "internal") -> FamilyFile:
    """Reactivate an archived file (3.17), for example when a sibling is registered."""
    require(session, Permission.DOCUMENTS_WRITE)
    file = family_file(session, family_id)
    if file.status is not FileStatus.ARCHIVED:
        raise Conflict(f"family file {file.file_key} is not archived", record="family_file",
                       field="status", rule="Lastenheft 3.17")
    file.status = FileStatus.ACTIVE
    file.archived_on = None
    session.flush()
    _announce_status(session, file, target, _revision(session, file))
    return file
