"""The family file: versions by date, filing with metadata, immutability, archiving, access.

Lastenheft 3.7.4, 3.15.3, 3.16, 3.17; data-protection R10, D5; interfaces.md §7.
Each test runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ekita.core.db.base import Base
from ekita.core.errors import Conflict, Forbidden, RuleViolation
from ekita.core.models import Child
from ekita.core.models.documents import (
    DocumentContent,
    DocumentTemplate,
    DocumentType,
    FamilyFile,
    FiledDocument,
    FileStatus,
)
from ekita.core.models.enums import Role
from ekita.core.models.exchange import OutboxMessage
from ekita.core.outbox import declare_recipient
from ekita.core.services import contracts
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import store, templates
from ekita.core.services.documents.generate import Generation, generate_and_file
from ekita.core.services.documents.samples import SAMPLES
from ekita.plugins.domea import PERSONAL_FIELDS
from tests.conftest import as_role, work
from tests.world import build_world

DOC_TABLES = {"document_template", "family_file", "document_content", "filed_document",
              "document_dms_ref"}
NOTICE = DocumentType.FEE_NOTICE_SINGLE_DEBIT
ON = date(2027, 1, 4)


def _table_of(diff) -> str | None:
    op = diff[0] if isinstance(diff, list) else diff
    for item in op[1:]:
        table = getattr(item, "table", None)
        if table is not None and getattr(table, "name", None):
            return table.name
        name = item if isinstance(item, str) else getattr(item, "name", None)
        if name in DOC_TABLES:
            return name
    return None


def test_migration_0010_matches_the_models(engine):
    """Migration 0010 and core/models/documents.py agree (autogenerate finds nothing)."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if _table_of(d) in DOC_TABLES] == []


def world_with_templates(engine):
    """The test world with the default templates: (world, a child, its family id)."""
    world = build_world(engine)
    child = world.children[world.facility_m][0]
    with work(engine) as s:
        templates.install_defaults(s)
        family_id = s.get(Child, child).family_id
    return world, child, family_id


def _notice(session, family_id: int, child_id: int, key: str = "fee:2027-01:c1",
            target: ff.Store = "internal"):
    subject = Generation(family_id=family_id, business_key=key, reference_date=ON,
                         child_id=child_id, pkn="12345601", cost_centre="KST-M1",
                         valid_from=date(2027, 1, 1))
    return generate_and_file(session, NOTICE, SAMPLES[NOTICE], subject, target=target)


def test_version_is_chosen_by_reference_date(engine):
    """Lastenheft 3.15.3: a new version (statute change) closes the open one; the date picks."""
    with work(engine) as s:
        templates.install_defaults(s)
        old = templates.template_for(s, NOTICE, ON)
        body = old.body.replace("Elternbeitrages", "Elternbeitrages (Satzung 2027)")
        new = templates.create_template(s, templates.TemplateInput(
            NOTICE, old.title, date(2027, 3, 1), "Elternbeitragssatzung 2027", body))
        assert old.valid_to == date(2027, 2, 28)
        assert templates.template_for(s, NOTICE, date(2027, 2, 28)).id == old.id
        assert templates.template_for(s, NOTICE, date(2027, 3, 1)).id == new.id
        with pytest.raises(Conflict):
            templates.create_template(s, templates.TemplateInput(
                NOTICE, "x", date(2027, 3, 1), "y", body))
        assert templates.install_defaults(s) == []  # idempotent


def test_generated_notice_is_filed_with_metadata_and_hash(engine):
    """3.7.4 / interfaces.md §7: the notice lands in the family file with its metadata."""
    _, child, family_id = world_with_templates(engine)
    with work(engine, as_role(Role.FINANCE)) as s:
        _doc, created = _notice(s, family_id, child)
        assert created
    with work(engine, as_role(Role.ZVS)) as s:
        (listed,) = ff.documents(s, family_id)
        assert (listed.doc_class, listed.direction.value, listed.pkn, listed.child_id,
                listed.cost_centre, listed.machine_generated, listed.created_by) == (
            NOTICE.value, "outgoing", "12345601", child, "KST-M1", True, "test-finance")
        assert listed.statute_ref and listed.template_id and listed.retention
        meta, data = ff.content(s, listed.id)
        assert store.sha256(data) == meta.sha256 and data.startswith(b"%PDF-")
        assert ff.family_file(s, family_id).file_key == s.get(Child, child).family.number


def test_refiling_the_same_business_key_files_nothing_twice(engine):
    """Re-running a job (or re-delivery) does not file a document twice."""
    _, child, family_id = world_with_templates(engine)
    with work(engine) as s:
        first, _ = _notice(s, family_id, child)
    with work(engine) as s:
        again, created = _notice(s, family_id, child)
        assert not created and again.id == first.id
        assert s.scalar(select(func.count()).select_from(FiledDocument)) == 1


def test_uploaded_document_is_immutable_and_never_replaced(engine):
    """data-protection D5: filed documents stay unaltered (service and database)."""
    _, child, family_id = world_with_templates(engine)
    filing = ff.Filing(family_id=family_id, business_key="upload:meldebescheinigung:1",
                       doc_class="Nachweis Hauptwohnsitz", title="Meldebescheinigung",
                       file_name="meldebescheinigung.pdf", media_type="application/pdf",
                       direction=ff.Direction.INCOMING, reference_date=ON,
                       machine_generated=False, child_id=child, received_on=ON)
    with work(engine) as s:
        doc, _ = ff.file_document(s, filing, b"%PDF-1.4 proof")
        doc_id, digest = doc.id, doc.sha256
    with work(engine) as s, pytest.raises(Conflict):
        ff.file_document(s, filing, b"%PDF-1.4 another proof")
    for statement in (f"UPDATE filed_document SET title = 'x' WHERE id = {doc_id}",
                      f"DELETE FROM filed_document WHERE id = {doc_id}",
                      f"UPDATE document_content SET size = 1 WHERE sha256 = '{digest}'",
                      f"DELETE FROM document_content WHERE sha256 = '{digest}'"):
        with pytest.raises(DBAPIError, match="cannot be changed or deleted"), \
                engine.begin() as conn:
            conn.execute(text(statement))
    with work(engine) as s:
        assert ff.content(s, doc_id)[1] == b"%PDF-1.4 proof"


def test_child_of_another_family_is_refused(engine):
    world, _child, family_id = world_with_templates(engine)
    other = world.children[world.facility_b1][0]
    with work(engine) as s, pytest.raises(RuleViolation) as err:
        _notice(s, family_id, other)
    assert err.value.field == "child_id"


def test_archive_only_without_care_and_reactivate(engine):
    """Lastenheft 3.17: archive when no child is in care and processes are closed."""
    world, child, family_id = world_with_templates(engine)
    with work(engine) as s:
        _notice(s, family_id, child)
    with work(engine) as s, pytest.raises(RuleViolation) as err:
        ff.archive(s, family_id, ON)
    assert "3.17" in err.value.rule
    with work(engine) as s:
        contracts.update_contract(s, world.contracts[child], {"end_date": date(2026, 7, 31)})
    with work(engine) as s:
        assert ff.archive(s, family_id, ON).status is FileStatus.ARCHIVED
    with work(engine) as s, pytest.raises(Conflict):
        _notice(s, family_id, child, key="fee:2027-02:c1")
    with work(engine) as s:
        assert ff.reactivate(s, family_id).status is FileStatus.ACTIVE
        _, created = _notice(s, family_id, child, key="fee:2027-02:c1")
        assert created


@pytest.mark.parametrize("role", [Role.FACILITY_LEAD, Role.CARRIER, Role.OPS,
                                  Role.INTEGRATION])
def test_only_eb_kita_reads_the_family_file(engine, role):
    """data-protection R10 and §7 matrix: e-file only for EB Kita staff."""
    world, child, family_id = world_with_templates(engine)
    with work(engine) as s:
        _notice(s, family_id, child)
    principal = as_role(role, facility_id=world.facility_m, carrier_id=world.municipal)
    with work(engine, principal) as s, pytest.raises(Forbidden):
        ff.documents(s, family_id)


def test_zvs_reads_but_does_not_file_fee_office_files(engine):
    """Access matrix: ZVS R (per document), fee office R/W; templates: administrators."""
    _, child, family_id = world_with_templates(engine)
    with work(engine, as_role(Role.ZVS)) as s, pytest.raises(Forbidden):
        _notice(s, family_id, child)
    with work(engine, as_role(Role.FINANCE)) as s:
        _notice(s, family_id, child)
    with work(engine, as_role(Role.FINANCE)) as s, pytest.raises(Forbidden):
        templates.list_templates(s)


def test_domea_tenant_enqueues_0604_and_0605_in_the_same_transaction(engine):
    """Lastenheft 3.16 / interfaces.md §7: DOMEA filing goes through the outbox."""
    declare_recipient("domea", PERSONAL_FIELDS)
    _, child, family_id = world_with_templates(engine)
    with pytest.raises(RuntimeError), work(engine) as s:
        _notice(s, family_id, child, target="domea")
        raise RuntimeError("the business change fails")
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.scalar(select(func.count()).select_from(DocumentContent)) == 0
        doc, _ = _notice(s, family_id, child, target="domea")
        _notice(s, family_id, child, key="fee:2027-02:c1", target="domea")
    with work(engine) as s:
        ops = sorted(m.operation for m in s.scalars(select(OutboxMessage)))
        assert ops == ["create_file", "file_document", "file_document"]
        message = s.scalars(select(OutboxMessage).where(
            OutboxMessage.business_key == doc.uuid)).one()
        assert message.payload_ref == f"filed_document:{doc.uuid}"
        assert set(message.payload) == {"document_uuid", "family_file_uuid", "pkn"}
        assert s.scalars(select(FamilyFile)).one().uuid == ff.family_file_uuid(
            s.get(Child, child).family.number)


def test_template_used_by_a_filed_document_is_not_edited(engine):
    """D5: documents stay reproducible; a used version needs a successor instead."""
    _, child, family_id = world_with_templates(engine)
    with work(engine) as s:
        doc, _ = _notice(s, family_id, child)
        template_id = doc.template_id
    with work(engine) as s, pytest.raises(Conflict):
        templates.update_template(s, template_id, {"body": "<p>neu</p>"})
    with work(engine) as s:
        other = templates.template_for(s, DocumentType.INVITATION, ON)
        templates.update_template(s, other.id, {"statute_ref": "§ 4 SächsKitaG (2027)"})
        assert s.get(DocumentTemplate, other.id).statute_ref.endswith("(2027)")
