"""registries: MESO check history, KIS district assignments, the address review list

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registry_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=True),
        sa.Column("moved_on", sa.Date(), nullable=True),
        sa.Column("effect", sa.String(length=40), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name=op.f("fk_registry_check_application_id_application")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_check")),
    )
    op.create_index(op.f("ix_registry_check_application_id"), "registry_check",
                    ["application_id"])
    op.create_table(
        "address_district",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("stadtteil_nr", sa.String(length=2), nullable=False),
        sa.Column("bezirk", sa.String(length=80), nullable=False),
        sa.Column("art", sa.String(length=12), nullable=False),
        sa.Column("street_key", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_to", TS, nullable=True),
        sa.ForeignKeyConstraint(["stadtteil_nr"], ["stadtteil.nr"],
                                name=op.f("fk_address_district_stadtteil_nr_stadtteil")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_district")),
    )
    op.create_index("ix_address_district_entity", "address_district", ["entity", "entity_id"])
    op.create_table(
        "address_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_review")),
    )
    op.create_index("ix_address_review_entity", "address_review", ["entity", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_address_review_entity", table_name="address_review")
    op.drop_table("address_review")
    op.drop_index("ix_address_district_entity", table_name="address_district")
    op.drop_table("address_district")
    op.drop_index(op.f("ix_registry_check_application_id"), table_name="registry_check")
    op.drop_table("registry_check")
