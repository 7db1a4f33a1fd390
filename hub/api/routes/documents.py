"""Templates (administrators) and the family e-file (EB Kita only): Lastenheft 3.7.4,
3.15.3, 3.16, 3.17; data-protection R10. Facility leads and carriers get 403 throughout.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ekita.core.errors import RuleViolation
from ekita.core.models.documents import Direction, DocumentType
from ekita.core.schemas.documents import (
    ArchiveIn,
    FamilyFileOut,
    FiledDocumentOut,
    GenerateIn,
    PlaceholdersOut,
    PreviewIn,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
)
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import templates as tpl
from ekita.core.services.documents.generate import (
    Generation,
    generate_and_file,
    render_document,
)
from ekita.core.services.documents.samples import SAMPLES
from ekita.hub.api.deps import DB, PathId, QueryId, WriteDB
from ekita.hub.inputs import cap_for, read_upload

router = APIRouter(tags=["documents"])
UPLOAD_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "image/tiff"})


def _target(request: Request, tenant: str = "city") -> ff.Store:
    return ff.store_for(request.app.state.settings.document_store, tenant)


@router.get("/document-templates", response_model=list[TemplateOut])
def list_templates(session: DB, doc_type: DocumentType | None = None) -> list:
    return tpl.list_templates(session, doc_type)


@router.get("/document-templates/placeholders", response_model=list[PlaceholdersOut])
def placeholders(session: DB) -> list[dict]:
    """The fields each document type may use (3.15.3), for template authors."""
    tpl.list_templates(session)  # permission check: templates:manage
    return [{"doc_type": t, "placeholders": sorted(p), "optional": sorted(p & tpl.OPTIONAL)}
            for t, p in tpl.PLACEHOLDERS.items()]


@router.post("/document-templates", response_model=TemplateOut, status_code=201)
def create_template(session: WriteDB, body: TemplateIn) -> object:
    template = tpl.create_template(session, tpl.TemplateInput(**body.model_dump()))
    session.commit()
    return template


@router.patch("/document-templates/{template_id}", response_model=TemplateOut)
def update_template(session: WriteDB, template_id: PathId, body: TemplatePatch) -> object:
    template = tpl.update_template(session, template_id, body.model_dump(exclude_unset=True))
    session.commit()
    return template


@router.post("/document-templates/preview")
def preview(session: DB, body: PreviewIn) -> Response:
    """Render the version valid on the date with the given (or sample) fields; nothing filed."""
    tpl.list_templates(session, body.doc_type)  # permission check: templates:manage
    fields = body.fields if body.fields is not None else SAMPLES[body.doc_type]
    rendered = render_document(session, body.doc_type, fields, body.reference_date,
                               body.format)
    return Response(rendered.data, media_type=rendered.media_type)


@router.get("/families/{family_id}/file", response_model=FamilyFileOut)
def get_file(session: DB, family_id: PathId) -> object:
    return ff.family_file(session, family_id)


@router.get("/families/{family_id}/documents", response_model=list[FiledDocumentOut])
def list_documents(session: DB, family_id: PathId) -> list:
    return ff.documents(session, family_id)


@router.post("/families/{family_id}/documents/generate", response_model=FiledDocumentOut,
             status_code=201)
def generate(session: WriteDB, request: Request, family_id: PathId, body: GenerateIn,
             response: Response) -> object:
    """Render from the template valid on the reference date and file it (once per key)."""
    subject = Generation(family_id=family_id, business_key=body.business_key,
                         reference_date=body.reference_date, child_id=body.child_id,
                         pkn=body.pkn, cost_centre=body.cost_centre, valid_from=body.valid_from,
                         valid_to=body.valid_to)
    doc, created = generate_and_file(session, body.doc_type, body.fields, subject,
                                     target=_target(request))
    session.commit()
    if not created:
        response.status_code = 200
    return doc


@router.post("/families/{family_id}/documents", response_model=FiledDocumentOut,
             status_code=201)
async def upload(session: WriteDB, request: Request, response: Response, family_id: PathId,
                 doc_class: Annotated[str, Query(min_length=1, max_length=60)],
                 business_key: Annotated[str, Query(min_length=1, max_length=200)],
                 received_on: date,
                 file_name: Annotated[str, Query(min_length=1, max_length=200)],
                 child_id: QueryId = None,
                 title: Annotated[str | None, Query(max_length=200)] = None) -> object:
    """File an incoming document (e.g. proof of residence) as received, unaltered.

    The request body is the file itself, its ``Content-Type`` the media type.
    """
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip()
    if media_type not in UPLOAD_TYPES:
        raise RuleViolation(f"media type {media_type!r} is not accepted", record="document",
                            field="content-type", rule="PDF, JPEG, PNG or TIFF; no signed or "
                                                       "encrypted documents (Anlage J)")
    # Streamed and counted as it arrives (chunked uploads too): over the cap the request
    # is refused before the rest is read, and nothing is filed (issue 12 item 6).
    cap = cap_for("document", request.app.state.settings)
    data = await read_upload(request, cap=cap, name=file_name)
    filing = ff.Filing(
        family_id=family_id, business_key=business_key, doc_class=doc_class,
        title=title or doc_class, file_name=file_name, media_type=media_type,
        direction=Direction.INCOMING, reference_date=received_on, received_on=received_on,
        machine_generated=False, child_id=child_id)
    doc, created = ff.file_document(session, filing, data, target=_target(request))
    session.commit()
    if not created:
        response.status_code = 200
    return doc


@router.get("/documents/{document_id}", response_model=FiledDocumentOut)
def get_document(session: DB, document_id: PathId) -> object:
    return ff.document(session, document_id)


@router.get("/documents/{document_id}/content")
def get_content(session: DB, document_id: PathId) -> Response:
    """The bytes exactly as filed (checked against the stored hash)."""
    doc, data = ff.content(session, document_id)
    return Response(data, media_type=doc.media_type, headers={
        "Content-Disposition": f'attachment; filename="{doc.uuid}"', "ETag": doc.sha256})


@router.post("/families/{family_id}/file/archive", response_model=FamilyFileOut)
def archive(session: WriteDB, request: Request, family_id: PathId, body: ArchiveIn) -> object:
    file = ff.archive(session, family_id, body.on, target=_target(request))
    session.commit()
    return file


@router.post("/families/{family_id}/file/reactivate", response_model=FamilyFileOut)
def reactivate(session: WriteDB, request: Request, family_id: PathId) -> object:
    file = ff.reactivate(session, family_id, target=_target(request))
    session.commit()
    return file

