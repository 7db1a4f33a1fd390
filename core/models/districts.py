"""Dresden's 64 statistical districts (Stadtteile) with their Stadtbezirk or Ortschaft."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base


class Stadtteil(Base):
    """Reference data loaded by the first migration from ``ekita/core/data``."""

    __tablename__ = "stadtteil"

    nr: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # Stadtbezirk (former Ortsamt) or Ortschaft; several Ortschaften joined by '|'.
    bezirk: Mapped[str] = mapped_column(String(80), index=True)
    art: Mapped[str] = mapped_column(String(12))  # 'Stadtbezirk' | 'Ortschaft'
    plz: Mapped[str] = mapped_column(String(60), default="")
