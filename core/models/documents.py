"""Document templates and the family's electronic file (Lastenheft 3.7.4, 3.15.3, 3.16, 3.17).

A filed document and its content are immutable once written (data-protection D5: notices
are kept "gerichtsfest"); the database refuses UPDATE and DELETE on both tables (triggers
of migration 0010). What changes later (the DMS id from an 0630 acknowledgement) lives
in ``document_dms_ref`` beside it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, Tracked, enum_type, utcnow


class DocumentType(enum.StrEnum):
    """Generated document classes with a template (data-model.md §5)."""

    CARE_CONTRACT_KITA = "care_contract_kita"
    CARE_CONTRACT_HORT = "care_contract_hort"
    FEE_NOTICE_SINGLE_DEBIT = "fee_notice_single_debit"  # Einzelkind Abbucher
    FEE_NOTICE_SINGLE_SELF = "fee_notice_single_self"  # Einzelkind Selbsteinzahler
    FEE_NOTICE_SIBLINGS_DEBIT = "fee_notice_siblings_debit"
    FEE_NOTICE_SIBLINGS_SELF = "fee_notice_siblings_self"
    EXIT_CONFIRMATION = "exit_confirmation"  # Austrittsbestätigung
    APPLICATION_RECEIPT = "application_receipt"  # Eingangsbestätigung
    PLACEMENT_STARTS = "placement_starts"  # Mitteilung "Vermittlung beginnt"
    INVITATION = "invitation"  # Besichtigungseinladung


class Direction(enum.StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


class FileStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"  # business archiving, 3.17


class DocumentTemplate(Tracked, Base):
    """One version of a template: valid for reference dates in [valid_from, valid_to]."""

    __tablename__ = "document_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[DocumentType] = mapped_column(enum_type(DocumentType), index=True)
    title: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    statute_ref: Mapped[str] = mapped_column(String(300))  # e.g. "Elternbeitragssatzung 2027"
    body: Mapped[str] = mapped_column(Text)  # Jinja2 HTML, rendered in a sandbox

    __table_args__ = (UniqueConstraint("doc_type", "valid_from"),)


class FamilyFile(Tracked, Base):
    """The one electronic file of a family (3.7.4); archived and reactivated per 3.17."""

    __tablename__ = "family_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id"), unique=True)
    file_key: Mapped[str] = mapped_column(String(20), unique=True)  # the family number
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # stable xdomea Akte id
    tenant: Mapped[str] = mapped_column(String(40), default="city")
    status: Mapped[FileStatus] = mapped_column(enum_type(FileStatus), default=FileStatus.ACTIVE)
    archived_on: Mapped[date | None]


class DocumentContent(Base):
    """Content-addressed bytes of the internal store (sha256 → bytes); never changed."""

    __tablename__ = "document_content"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class FiledDocument(Base):
    """A document in a family file with its metadata (interfaces.md §7); never changed."""

    __tablename__ = "filed_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # stable xdomea Dokument id
    family_file_id: Mapped[int] = mapped_column(ForeignKey("family_file.id"), index=True)
    doc_class: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    direction: Mapped[Direction] = mapped_column(enum_type(Direction))
    pkn: Mapped[str | None] = mapped_column(String(8))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"))
    cost_centre: Mapped[str | None] = mapped_column(String(20))
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    reference_date: Mapped[date]
    received_on: Mapped[date | None]
    statute_ref: Mapped[str | None] = mapped_column(String(300))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("document_template.id"))
    created_by: Mapped[str] = mapped_column(String(120))
    machine_generated: Mapped[bool] = mapped_column(Boolean)
    retention: Mapped[str] = mapped_column(String(40))  # retention class, data-protection §6
    file_name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(ForeignKey("document_content.sha256"))
    size: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str] = mapped_column(String(200), unique=True)  # filed once
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentDmsRef(Base):
    """What the DMS answered for a filed document or file (0630): its own id."""

    __tablename__ = "document_dms_ref"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    dms_id: Mapped[str | None] = mapped_column(String(200))
    imported: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)
