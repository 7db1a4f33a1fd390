"""carrier imports: dedup by content, profile and mapping version (issue 12)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The mapping version of the profile a report was imported with; old reports: NULL."""
    with op.batch_alter_table("carrier_import_report") as batch:
        batch.add_column(sa.Column("mapping_version", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("carrier_import_report") as batch:
        batch.drop_column("mapping_version")
