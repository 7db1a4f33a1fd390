"""API shapes of templates and the family file (Lastenheft 3.7.4, 3.15.3, 3.17)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from ekita.core.models.documents import Direction, DocumentType, FileStatus
from ekita.core.schemas.common import CostCentre, In, LongName, Out, Ref, Text, text

Body = text(100_000)
Key = text(200)


class TemplateIn(In):
    doc_type: DocumentType
    title: Text
    valid_from: date
    valid_to: date | None = None
    statute_ref: LongName
    body: Body = Field(description="Jinja2 HTML with the placeholders of the document type")


class TemplatePatch(In):
    title: Text | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    statute_ref: LongName | None = None
    body: Body | None = None


class TemplateOut(Out):
    id: int
    doc_type: DocumentType
    title: str
    valid_from: date
    valid_to: date | None
    statute_ref: str
    body: str


class PlaceholdersOut(In):
    doc_type: DocumentType
    placeholders: list[str]
    optional: list[str]


class PreviewIn(In):
    doc_type: DocumentType
    reference_date: date
    fields: dict[str, Any] | None = Field(
        default=None, description="values of the placeholders; default: the sample values")
    format: Literal["pdf", "docx"] = "pdf"


class GenerateIn(In):
    """A document generated from the template valid on ``reference_date`` and filed."""

    doc_type: DocumentType
    reference_date: date
    business_key: Key = Field(description="what makes the document unique; filed once")
    fields: dict[str, Any]
    child_id: Ref | None = None
    pkn: str | None = Field(default=None, pattern=r"^\d{8}$")
    cost_centre: CostCentre | None = None
    valid_from: date | None = None
    valid_to: date | None = None


class FamilyFileOut(Out):
    id: int
    family_id: int
    file_key: str
    uuid: str
    tenant: str
    status: FileStatus
    archived_on: date | None


class FiledDocumentOut(Out):
    id: int
    uuid: str
    doc_class: str
    title: str
    direction: Direction
    pkn: str | None
    child_id: int | None
    cost_centre: str | None
    valid_from: date | None
    valid_to: date | None
    reference_date: date
    received_on: date | None
    statute_ref: str | None
    template_id: int | None
    created_by: str
    machine_generated: bool
    retention: str
    file_name: str
    media_type: str
    sha256: str
    size: int
    business_key: str
    filed_at: datetime


class ArchiveIn(In):
    on: date
