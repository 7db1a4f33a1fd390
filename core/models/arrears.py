"""Arrears reported by SAP-FI and the finance worklist built from them (Lastenheft 3.10.10,
fees.md §12, interfaces.md §5 F6).

One row per payer (PKN): the latest open items SAP reported for it. A payer more than two
months behind is on the finance worklist; EB Kita may record that it started the
termination process (visible only inside EB Kita, data-protection R11) and, in the
exceptional case, the termination itself (date, reason), of which the facility lead is
informed. A payer no longer reported as behind is marked cleared.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, Tracked, enum_type


class ArrearsStatus(StrEnum):
    OPEN = "open"  # reported behind, nothing decided yet
    TERMINATION_STARTED = "termination_started"  # EB Kita examines termination (R11)
    TERMINATED = "terminated"  # the contract was terminated for arrears
    CLEARED = "cleared"  # no longer reported behind


class ArrearsCase(Tracked, Base):
    """The arrears of one payer as last reported by SAP, and EB Kita's decision on them."""

    __tablename__ = "arrears_case"
    # R11: the termination status is EB Kita's alone. The API serves this table only to EB
    # Kita roles; in the change log the class "rank" (revealed to zvs, admin and finance,
    # omitted altogether for facility leads and carriers) keeps it there as well.
    __sensitive__ = {"status": "rank", "termination_started_on": "rank",
                     "termination_reason": "rank"}

    id: Mapped[int] = mapped_column(primary_key=True)
    pkn: Mapped[str] = mapped_column(String(8), unique=True)
    debtor_no: Mapped[str | None] = mapped_column(String(20))
    months_overdue: Mapped[int] = mapped_column(Integer)
    amount_overdue_cents: Mapped[int] = mapped_column(BigInteger)
    oldest_due_date: Mapped[date]
    as_of: Mapped[date]  # the date of the SAP file that last reported this payer
    status: Mapped[ArrearsStatus] = mapped_column(enum_type(ArrearsStatus), index=True)
    termination_started_on: Mapped[date | None]
    terminated_on: Mapped[date | None]
    terminated_contract_id: Mapped[int | None] = mapped_column(Integer)
    termination_reason: Mapped[str | None] = mapped_column(Text)
    cleared_on: Mapped[date | None]
