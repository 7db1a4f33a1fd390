"""fees: statute versions, fee facts, sibling links, extra care, payment setup, debit runs,
receivable lines

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fee_statute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_fee_statute_validity_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_statute")),
        sa.UniqueConstraint("valid_from", name=op.f("uq_fee_statute_valid_from")),
    )
    op.create_table(
        "debit_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "SOLL", "KORREKTUR", name="debitrunkind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "job_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("control_sum_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"], ["job_run.id"], name=op.f("fk_debit_run_job_run_id_job_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debit_run")),
        sa.UniqueConstraint("period", "kind", "seq", name=op.f("uq_debit_run_period")),
    )
    op.create_table(
        "fee_facility_option",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("kg_from_34_months", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_fee_facility_option_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_facility_option")),
        sa.UniqueConstraint("facility_id", name=op.f("uq_fee_facility_option_facility_id")),
    )
    op.create_table(
        "fee_sibling_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("sibling_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "child_id <> sibling_id", name=op.f("ck_fee_sibling_link_distinct_children")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["child.id"], name=op.f("fk_fee_sibling_link_child_id_child")
        ),
        sa.ForeignKeyConstraint(
            ["sibling_id"], ["child.id"], name=op.f("fk_fee_sibling_link_sibling_id_child")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_sibling_link")),
    )
    op.create_index(
        op.f("ix_fee_sibling_link_child_id"), "fee_sibling_link", ["child_id"], unique=False
    )
    op.create_index(
        op.f("ix_fee_sibling_link_sibling_id"), "fee_sibling_link", ["sibling_id"], unique=False
    )
    op.create_table(
        "payment_setup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guardian_id", sa.Integer(), nullable=False),
        sa.Column(
            "payment_method",
            sa.Enum(
                "DIRECT_DEBIT",
                "SELF_PAYER",
                name="paymentmethod",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("iban_encrypted", sa.Text(), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("mandate_reference", sa.String(length=35), nullable=True),
        sa.Column("mandate_signed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guardian_id"], ["guardian.id"], name=op.f("fk_payment_setup_guardian_id_guardian")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_setup")),
        sa.UniqueConstraint("guardian_id", name=op.f("uq_payment_setup_guardian_id")),
    )
    op.create_table(
        "fee_extra_care",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("exceeded_tiers", sa.Integer(), nullable=False),
        sa.Column("not_picked_up", sa.Boolean(), nullable=False),
        sa.Column("school_free_day", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("exceeded_tiers >= 0", name=op.f("ck_fee_extra_care_tiers_nonneg")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["care_contract.id"],
            name=op.f("fk_fee_extra_care_contract_id_care_contract"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_extra_care")),
        sa.UniqueConstraint("contract_id", "day", name=op.f("uq_fee_extra_care_contract_id")),
    )
    op.create_index(
        op.f("ix_fee_extra_care_contract_id"), "fee_extra_care", ["contract_id"], unique=False
    )
    op.create_table(
        "fee_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "single_parent",
                "foster_care",
                "heilpaed",
                "care_outside_dresden",
                "half_month",
                "override",
                "waiver",
                "reduction",
                "foerderhort",
                name="factkind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_fee_fact_validity_order")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["child.id"], name=op.f("fk_fee_fact_child_id_child")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["care_contract.id"],
            name=op.f("fk_fee_fact_contract_id_care_contract"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_fact")),
    )
    op.create_index(op.f("ix_fee_fact_child_id"), "fee_fact", ["child_id"], unique=False)
    op.create_table(
        "receivable_line",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_ref", sa.String(length=80), nullable=False),
        sa.Column("pkn", sa.String(length=8), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("payer_guardian_id", sa.Integer(), nullable=False),
        sa.Column("cost_centre", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "fee_type",
            sa.Enum(
                "ELTERNBEITRAG",
                "MEHRBETREUUNG",
                "NICHTABHOLUNG",
                "GASTKIND",
                "SONSTIGE",
                name="feetype",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "line_kind",
            sa.Enum(
                "SOLL",
                "GUTSCHRIFT",
                "NACHFORDERUNG",
                "STORNO",
                name="linekind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("correction_no", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["care_contract.id"],
            name=op.f("fk_receivable_line_contract_id_care_contract"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_guardian_id"],
            ["guardian.id"],
            name=op.f("fk_receivable_line_payer_guardian_id_guardian"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["debit_run.id"], name=op.f("fk_receivable_line_run_id_debit_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivable_line")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_receivable_line_external_ref")),
        sa.UniqueConstraint(
            "pkn",
            "contract_id",
            "period",
            "fee_type",
            "line_kind",
            "correction_no",
            name=op.f("uq_receivable_line_pkn"),
        ),
    )
    op.create_index(
        op.f("ix_receivable_line_contract_id"), "receivable_line", ["contract_id"], unique=False
    )
    op.create_index(op.f("ix_receivable_line_period"), "receivable_line", ["period"], unique=False)
    op.create_index(op.f("ix_receivable_line_pkn"), "receivable_line", ["pkn"], unique=False)
    op.create_index(op.f("ix_receivable_line_run_id"), "receivable_line", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_receivable_line_run_id"), table_name="receivable_line")
    op.drop_index(op.f("ix_receivable_line_pkn"), table_name="receivable_line")
    op.drop_index(op.f("ix_receivable_line_period"), table_name="receivable_line")
    op.drop_index(op.f("ix_receivable_line_contract_id"), table_name="receivable_line")
    op.drop_table("receivable_line")
    op.drop_index(op.f("ix_fee_fact_child_id"), table_name="fee_fact")
    op.drop_table("fee_fact")
    op.drop_index(op.f("ix_fee_extra_care_contract_id"), table_name="fee_extra_care")
    op.drop_table("fee_extra_care")
    op.drop_table("payment_setup")
    op.drop_index(op.f("ix_fee_sibling_link_sibling_id"), table_name="fee_sibling_link")
    op.drop_index(op.f("ix_fee_sibling_link_child_id"), table_name="fee_sibling_link")
    op.drop_table("fee_sibling_link")
    op.drop_table("fee_facility_option")
    op.drop_table("debit_run")
    op.drop_table("fee_statute")
