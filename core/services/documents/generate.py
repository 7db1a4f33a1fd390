"""Making a document from the template valid on its reference date, and filing it.

The PDF/A is what is filed (the archival form, stored unaltered: D5); DOCX is an office
export rendered on request from the same template version (3.19 "Word- und PDF-Export").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy.orm import Session

from ekita.core.models.documents import Direction, DocumentTemplate, DocumentType, FiledDocument
from ekita.core.services.documents import render, templates
from ekita.core.services.documents.family_file import Filing, Store, file_document

Format = Literal["pdf", "docx"]
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class Rendered:
    template: DocumentTemplate
    data: bytes
    media_type: str


def render_document(session: Session, doc_type: DocumentType, fields: dict[str, Any],
                    on: date, fmt: Format = "pdf") -> Rendered:
    """Fill the version valid on ``on`` and render it (PDF/A-3b or DOCX)."""
    template = templates.template_for(session, doc_type, on)
    html = render.page_html(template.title, templates.fill(template, fields))
    data = render.render_pdf(html) if fmt == "pdf" else render.render_docx(html)
    return Rendered(template, data, MEDIA_TYPES[fmt])


@dataclass(frozen=True)
class Generation:
    """A generated document's subject and keys; the metadata of interfaces.md §7."""

    family_id: int
    business_key: str
    reference_date: date
    child_id: int | None = None
    pkn: str | None = None
    cost_centre: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None


def generate_and_file(session: Session, doc_type: DocumentType, fields: dict[str, Any],
                      subject: Generation, *, tenant: str = "city", target: Store = "internal"
                      ) -> tuple[FiledDocument, bool]:
    """Render the PDF/A and file it, machine-generated, in the family's file."""
    rendered = render_document(session, doc_type, fields, subject.reference_date)
    template = rendered.template
    filing = Filing(
        family_id=subject.family_id, business_key=subject.business_key,
        doc_class=doc_type.value, title=template.title,
        file_name=f"{doc_type.value}_{subject.reference_date.isoformat()}.pdf",
        media_type=rendered.media_type, direction=Direction.OUTGOING,
        reference_date=subject.reference_date, machine_generated=True,
        child_id=subject.child_id, pkn=subject.pkn, cost_centre=subject.cost_centre,
        valid_from=subject.valid_from, valid_to=subject.valid_to,
        statute_ref=template.statute_ref, template_id=template.id)
    return file_document(session, filing, rendered.data, tenant=tenant, target=target)
