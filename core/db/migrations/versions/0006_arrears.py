"""arrears: arrears cases reported by SAP-FI (finance worklist, Lastenheft 3.10.10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arrears_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pkn", sa.String(length=8), nullable=False),
        sa.Column("debtor_no", sa.String(length=20), nullable=True),
        sa.Column("months_overdue", sa.Integer(), nullable=False),
        sa.Column("amount_overdue_cents", sa.BigInteger(), nullable=False),
        sa.Column("oldest_due_date", sa.Date(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "termination_started",
                "terminated",
                "cleared",
                name="arrearsstatus",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=False,
        ),
        sa.Column("termination_started_on", sa.Date(), nullable=True),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.Column("terminated_contract_id", sa.Integer(), nullable=True),
        sa.Column("termination_reason", sa.Text(), nullable=True),
        sa.Column("cleared_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_case")),
        sa.UniqueConstraint("pkn", name=op.f("uq_arrears_case_pkn")),
    )
    op.create_index(op.f("ix_arrears_case_status"), "arrears_case", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_arrears_case_status"), table_name="arrears_case")
    op.drop_table("arrears_case")
