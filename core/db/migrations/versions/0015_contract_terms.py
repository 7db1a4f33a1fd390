"""contract terms with validity (issue 13)

Every existing contract becomes one term over its whole period (valid_from = start_date,
valid_to = end_date, both inclusive) with the contract's current care type, hours and
reserved-place flag: the fee engine reads terms from now on.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CARE_TYPES = ("krippe", "kindergarten", "hort", "integration_krippe",
              "integration_kindergarten", "integration_hort", "heilpaedagogisch",
              "kindertagespflege")


def upgrade() -> None:
    op.create_table(
        "contract_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("care_type", sa.Enum(*CARE_TYPES, name="caretype", native_enum=False,
                                       create_constraint=True, length=24), nullable=False),
        sa.Column("daily_hours", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("company_reserved_place", sa.Boolean(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name=op.f("ck_contract_term_period_order")),
        sa.CheckConstraint("daily_hours > 0", name=op.f("ck_contract_term_hours_positive")),
        sa.ForeignKeyConstraint(["contract_id"], ["care_contract.id"],
                                name=op.f("fk_contract_term_contract_id_care_contract")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_term")),
    )
    op.create_index(op.f("ix_contract_term_contract_id"), "contract_term", ["contract_id"])
    op.execute(
        "INSERT INTO contract_term (contract_id, valid_from, valid_to, care_type, daily_hours,"
        " company_reserved_place, created_at, updated_at)"
        " SELECT id, start_date, end_date, care_type, daily_hours, company_reserved_place,"
        " created_at, updated_at FROM care_contract ORDER BY id")


def downgrade() -> None:
    op.drop_index(op.f("ix_contract_term_contract_id"), table_name="contract_term")
    op.drop_table("contract_term")
