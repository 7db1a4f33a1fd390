"""Property: whatever changes happen between runs, corrections bring every debited month to
exactly what is due, and a second corrections run posts nothing (fees.md §11.3–4)."""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ekita.core.db.session import make_engine
from ekita.core.models import CareContract
from ekita.core.models.enums import CareType
from ekita.core.models.fees import FactKind, FeeFact, ReceivableLine
from ekita.core.schemas.fees import ExtraCareIn, FactIn
from ekita.core.services import contracts
from ekita.core.services.fees import cases
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.corrections import run_corrections
from ekita.core.services.fees.debit_run import run_debit
from ekita.core.services.fees.rules import add_months, month_start, period_of
from ekita.core.tracking import valid_from
from tests.conftest import work
from tests.test_fees_world import build, family

FIRST = date(2013, 1, 1)
STEPS = st.lists(st.tuples(
    st.sampled_from(["run", "single_on", "single_off", "hours", "exit", "extra", "foster"]),
    st.integers(min_value=0, max_value=2), st.sampled_from(["4.5", "6", "8", "10"])),
    min_size=1, max_size=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_corrections_converge_and_never_post_twice(sqlite_template, tmp_path_factory, steps):
    """fees.md §11.4: delta = recomputed − booked per month; after corrections booked ==
    due for every debited month and contract; a second run finds nothing."""
    path = tmp_path_factory.mktemp("prop") / f"{uuid.uuid4().hex}.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2007, 5, 10), CareType.KINDERGARTEN, "9"),
                                    (date(2010, 8, 1), CareType.KRIPPE, "9"),
                                    (date(2011, 3, 15), CareType.KRIPPE, "6")])
    month = FIRST
    extra_days = 0
    for action, who, hours in steps:
        with work(engine) as s:
            child, contract = fam.children[who], fam.contracts[who]
            if action == "run":
                run_debit(s, period_of(month))
                month = add_months(month, 1)
            elif action == "single_on":
                cases.add_fact(s, FactIn(child_id=child, kind=FactKind.SINGLE_PARENT,
                                         valid_from=FIRST))
            elif action == "single_off":
                for fact in s.scalars(select(FeeFact).where(
                        FeeFact.kind == FactKind.SINGLE_PARENT)):
                    cases.withdraw_fact(s, fact.id)
            elif action == "hours":
                # dated, retroactive into a debited month (issue 13 item 1), accepted at
                # short notice with a reason (item 2)
                day, end = max(FIRST, add_months(month, -1)), s.get(CareContract,
                                                                     contract).end_date
                with valid_from(s, min(day, end or day)):
                    contracts.update_contract(s, contract, {"daily_hours": Decimal(hours)},
                                              override_reason="property test")
            elif action == "exit":
                contracts.update_contract(s, contract, {"end_date": date(2013, 1, 31)})
            elif action == "extra":
                extra_days += 1
                cases.record_extra_care(s, ExtraCareIn(
                    contract_id=contract, day=date(2013, 1, extra_days), exceeded_tiers=1,
                    not_picked_up=who == 0))
            else:
                cases.add_fact(s, FactIn(child_id=child, kind=FactKind.FOSTER_CARE,
                                         valid_from=FIRST))
    with work(engine) as s:
        run_corrections(s, on=date(2013, 6, 1))
    with work(engine) as s:
        assert run_corrections(s, on=date(2013, 6, 2)).record_count == 0
        periods = set(s.scalars(select(ReceivableLine.period)))
        for period in periods:
            assessor = MonthAssessor(s, month_start(period))
            for contract in fam.contracts:
                a = assessor.for_contract(contract)
                due = sum(a.lines().values()) if a else 0
                booked = s.scalar(select(func.coalesce(func.sum(ReceivableLine.amount_cents), 0))
                                  .where(ReceivableLine.period == period,
                                         ReceivableLine.contract_id == contract))
                assert booked == due, (period, contract)
    engine.dispose()
