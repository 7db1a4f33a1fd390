"""carrier exchange: import reports with their quarantined rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carrier_import_report",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("profile", sa.String(length=60), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["carrier_id"], ["carrier.id"],
                                name=op.f("fk_carrier_import_report_carrier_id_carrier")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_import_report")),
    )
    op.create_index(op.f("ix_carrier_import_report_carrier_id"), "carrier_import_report",
                    ["carrier_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_carrier_import_report_carrier_id"), "carrier_import_report")
    op.drop_table("carrier_import_report")
