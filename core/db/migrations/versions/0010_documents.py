"""documents: templates, family files, filed documents and their content (issue 8)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_DOC_TYPES = (
    "care_contract_kita", "care_contract_hort", "fee_notice_single_debit",
    "fee_notice_single_self", "fee_notice_siblings_debit", "fee_notice_siblings_self",
    "exit_confirmation", "application_receipt", "placement_starts", "invitation",
)
#: Tables whose rows are never changed nor deleted once written (data-protection D5).
IMMUTABLE = ("filed_document", "document_content")


def _stamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "document_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.Enum(*_DOC_TYPES, name="documenttype", native_enum=False,
                                      create_constraint=True, length=25), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("statute_ref", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_document_template"),
        sa.UniqueConstraint("doc_type", "valid_from", name="uq_document_template_doc_type"),
    )
    op.create_index("ix_document_template_doc_type", "document_template", ["doc_type"])
    op.create_table(
        "family_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(20), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("status", sa.Enum("active", "archived", name="filestatus", native_enum=False,
                                    create_constraint=True, length=8), nullable=False),
        sa.Column("archived_on", sa.Date(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"],
                                name="fk_family_file_family_id_family"),
        sa.PrimaryKeyConstraint("id", name="pk_family_file"),
        sa.UniqueConstraint("family_id", name="uq_family_file_family_id"),
        sa.UniqueConstraint("file_key", name="uq_family_file_file_key"),
        sa.UniqueConstraint("uuid", name="uq_family_file_uuid"),
    )
    op.create_table(
        "document_content",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_document_content"),
    )
    op.create_table(
        "filed_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("family_file_id", sa.Integer(), nullable=False),
        sa.Column("doc_class", sa.String(60), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("direction", sa.Enum("outgoing", "incoming", name="direction",
                                       native_enum=False, create_constraint=True, length=8),
                  nullable=False),
        sa.Column("pkn", sa.String(8), nullable=True),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("cost_centre", sa.String(20), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("statute_ref", sa.String(300), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("machine_generated", sa.Boolean(), nullable=False),
        sa.Column("retention", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(200), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["family_file_id"], ["family_file.id"],
                                name="fk_filed_document_family_file_id_family_file"),
        sa.ForeignKeyConstraint(["child_id"], ["child.id"],
                                name="fk_filed_document_child_id_child"),
        sa.ForeignKeyConstraint(["template_id"], ["document_template.id"],
                                name="fk_filed_document_template_id_document_template"),
        sa.ForeignKeyConstraint(["sha256"], ["document_content.sha256"],
                                name="fk_filed_document_sha256_document_content"),
        sa.PrimaryKeyConstraint("id", name="pk_filed_document"),
        sa.UniqueConstraint("uuid", name="uq_filed_document_uuid"),
        sa.UniqueConstraint("business_key", name="uq_filed_document_business_key"),
    )
    op.create_index("ix_filed_document_family_file_id", "filed_document", ["family_file_id"])
    op.create_table(
        "document_dms_ref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_uuid", sa.String(36), nullable=False),
        sa.Column("dms_id", sa.String(200), nullable=True),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_document_dms_ref"),
        sa.UniqueConstraint("object_uuid", name="uq_document_dms_ref_object_uuid"),
    )
    _forbid_changes()


def _forbid_changes() -> None:
    """Filed documents and their bytes are append-only in the database itself (D5)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION filed_document_immutable() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'filed documents cannot be changed or deleted'; END $$")
        for table in IMMUTABLE:
            op.execute(f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}"
                       " FOR EACH ROW EXECUTE FUNCTION filed_document_immutable()")
        return
    for table in IMMUTABLE:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
                " BEGIN SELECT RAISE(ABORT, 'filed documents cannot be changed or deleted'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS filed_document_immutable()")
    op.drop_table("document_dms_ref")
    op.drop_table("filed_document")
    op.drop_table("document_content")
    op.drop_table("family_file")
    op.drop_index("ix_document_template_doc_type", "document_template")
    op.drop_table("document_template")
