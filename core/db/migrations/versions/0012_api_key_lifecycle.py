"""API keys: expiry, revocation, rotation, last use (issue 12)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("revoke_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_from", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_api_key_rotated_from_api_key"), "api_key",
                                    ["rotated_from"], ["id"])
        batch_op.create_unique_constraint(batch_op.f("uq_api_key_rotated_from"),
                                          ["rotated_from"])


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_key_rotated_from"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_api_key_rotated_from_api_key"),
                                 type_="foreignkey")
        batch_op.drop_column("rotated_from")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("revoke_reason")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("expires_at")
