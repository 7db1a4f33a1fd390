"""placement analytics

Occupancy, forecast and statistics need no table of their own: they read care offers,
contracts, children and the placement tables of 0002 once per report and compute in
memory (core/services/placement/occupancy.py). The Schulrücksteller flag they use is the
existing ``child.school_deferred`` column (0001), exposed to the placement code as
``Child.school_entry_deferred`` (docs/decisions.md Q1), so this revision only keeps the
chain in order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
