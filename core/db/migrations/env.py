"""Alembic environment: runs against the engine handed in by ``ekita.core.db.migrate``."""

from __future__ import annotations

from alembic import context

import ekita.core.models  # noqa: F401  (fills the metadata)
from ekita.core.db.base import Base
from ekita.core.db.session import make_engine

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
