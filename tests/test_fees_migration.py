"""Migration 0005 creates exactly the fee tables of the model (issue 7 shared contract)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ekita.core.db.base import Base
from ekita.core.models import fees

FEE_TABLES = {m.__tablename__ for m in (fees.FeeStatute, fees.FeeFact, fees.SiblingLink,
                                        fees.FacilityFeeOption, fees.ExtraCare,
                                        fees.PaymentSetup, fees.DebitRun, fees.ReceivableLine)}


def _table_of(diff) -> str | None:
    op = diff[0] if isinstance(diff, list) else diff
    for item in op[1:]:
        name = getattr(item, "name", None) if not isinstance(item, str) else None
        table = getattr(item, "table", None)
        if table is not None and getattr(table, "name", None):
            return table.name
        if name in FEE_TABLES:
            return name
        if isinstance(item, str) and item in FEE_TABLES:
            return item
    return None


def test_models_match_the_migrated_database(engine):
    """Migration 0005 and core/models/fees.py agree (autogenerate finds no difference)."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diffs if _table_of(d) in FEE_TABLES]
    assert ours == []
    with engine.connect() as conn:
        tables = set(engine.dialect.get_table_names(conn))
    assert tables >= FEE_TABLES
