"""Debit run and corrections (fees.md §11, §14; Lastenheft 3.10.5, 3.10.9), both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from ekita.core.db.base import utcnow
from ekita.core.errors import RuleViolation
from ekita.core.models.enums import CareType
from ekita.core.models.exchange import JobRun, OutboxMessage, RunStatus
from ekita.core.models.fees import DebitRun, FactKind, LineKind, ReceivableLine
from ekita.core.schemas.fees import FactIn, PaymentSetupIn, StatuteIn
from ekita.core.services import contracts
from ekita.core.services.fees import cases
from ekita.core.services.fees.corrections import pending_corrections, run_corrections
from ekita.core.services.fees.debit_run import next_period, run_debit
from ekita.core.services.fees.statutes import DEFAULT_2011, create_statute
from tests.conftest import work
from tests.test_fees_world import booked, build, family

KK, KG = CareType.KRIPPE, CareType.KINDERGARTEN
S1 = [(date(2007, 5, 10), KG, "9"), (date(2010, 8, 1), KK, "9"), (date(2011, 3, 15), KK, "6")]


def test_s11_run_dates():
    """fees.md §16 S11: 31.01.2013 → 02/2013; 29.02.2016 → 03/2016."""
    assert next_period(date(2013, 1, 31)) == "2013-02"
    assert next_period(date(2016, 2, 29)) == "2016-03"


def test_debit_run_lines_control_sum_and_rerun(engine):
    """fees.md §11.1–2, S11: one SOLL line per contract and PKN with an amount; control sum
    and record count on the run and the JobRun; the SAP-FI messages and trailer; a rerun of
    the same month adds nothing."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, S1)
        cases.set_payment(s, PaymentSetupIn(guardian_id=fam.guardian,
                                            payment_method="DIRECT_DEBIT",
                                            iban="DE89 3704 0044 0532 0130 00",
                                            mandate_reference="M-1", holder="Elter Beitrag"))
        job = JobRun(job="fees.debit_run", scheduled_for=utcnow(), trigger="manual",
                     status=RunStatus.RUNNING)
        s.add(job)
        result = run_debit(s, "2012-09", job_run=job)
        assert (result.record_count, result.control_sum_cents) == (2, 13213 + 11362)
        assert (job.records_in, job.control_sum_cents) == (2, 24575)
    with work(engine) as s:
        again = run_debit(s, "2012-09")
        assert not again.created
        assert s.scalar(select(func.count()).select_from(ReceivableLine)) == 2
        ops = dict(s.execute(select(OutboxMessage.operation, func.count())
                             .group_by(OutboxMessage.operation)).all())
        assert ops == {"receivable": 2, "batch_trailer": 1, "debtor": 2}  # one per PKN
        debtor = s.scalar(select(OutboxMessage.payload).where(OutboxMessage.operation == "debtor"))
        assert "DE89" not in str(debtor)  # the IBAN travels encrypted
        trailer = s.scalar(select(OutboxMessage.payload)
                           .where(OutboxMessage.operation == "batch_trailer"))
        assert (trailer["line_count"], trailer["sum_cents"]) == (2, 24575)
        run = s.scalar(select(DebitRun))
        assert (run.record_count, run.control_sum_cents) == (2, 24575)


def test_invalid_iban_is_refused(engine):
    """Issue 7 item 3 / Anlage J: an IBAN is validated (schwifty) before it is stored."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [S1[0]])
        with pytest.raises(RuleViolation) as caught:
            cases.set_payment(s, PaymentSetupIn(guardian_id=fam.guardian,
                                                payment_method="DIRECT_DEBIT",
                                                iban="DE00 1234", mandate_reference="M"))
        assert caught.value.field == "iban"


def test_s5_single_parent_withdrawn_retroactively_gives_back_charges(engine):
    """fees.md §16 S5, §11.3–4 (3.10.5): the discount from 01/2013 is found unjustified
    after the runs Jan–Apr: four back-charges of 18,94; corrections again give none; the
    May run charges 189,36."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2010, 8, 1), KK, "9")])
        fact = cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.SINGLE_PARENT,
                                        valid_from=date(2013, 1, 1)))
        for period in ("2013-01", "2013-02", "2013-03", "2013-04"):
            assert run_debit(s, period).control_sum_cents == 17042
        fact_id = fact.id
    with work(engine) as s:
        cases.withdraw_fact(s, fact_id)  # never justified
        first = run_corrections(s, on=date(2013, 4, 10))
        assert [(ln["period"], ln["amount_cents"], ln["line_kind"]) for ln in first.lines] == [
            (p, 1894, LineKind.NACHFORDERUNG)
            for p in ("2013-01", "2013-02", "2013-03", "2013-04")]
        assert first.control_sum_cents == 7576
    with work(engine) as s:
        assert run_corrections(s, on=date(2013, 4, 11)).record_count == 0
        assert run_debit(s, "2013-05").control_sum_cents == 18936


def test_three_months_withdrawn_give_three_back_charges(engine):
    """Issue 7 tests: single-parent status withdrawn retroactively for 3 months gives exactly
    3 back-charges; running corrections again gives none."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2010, 8, 1), KK, "9")])
        fact = cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.SINGLE_PARENT,
                                        valid_from=date(2013, 1, 1)))
        for period in ("2013-01", "2013-02", "2013-03", "2013-04"):
            run_debit(s, period)
        cases.end_fact(s, fact.id, date(2013, 1, 31))
        result = run_corrections(s, on=date(2013, 4, 20))
        assert [ln["period"] for ln in result.lines] == ["2013-02", "2013-03", "2013-04"]
        assert all(ln["line_kind"] == LineKind.NACHFORDERUNG for ln in result.lines)
        assert run_corrections(s, on=date(2013, 4, 21)).record_count == 0
        assert booked(s, "2013-03", fam.contracts[0]) == 18936


def test_s6_waiver_credit_and_exit_credit(engine):
    """fees.md §16 S6, §11.4 (3.10.3, 3.10.9): a waiver from March after the March run gives
    a credit of 189,36; a backdated exit credits the months after it."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2010, 8, 1), KK, "9")])
        other = family(s, city.kita, [(date(2007, 5, 10), KG, "9")])
        run_debit(s, "2013-03")
        cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.WAIVER,
                                 valid_from=date(2013, 3, 1), valid_to=date(2014, 2, 28)))
        result = run_corrections(s, on=date(2013, 3, 25))
        assert [(ln["amount_cents"], ln["line_kind"]) for ln in result.lines] == [
            (-18936, LineKind.GUTSCHRIFT)]
        run_debit(s, "2013-04")
        contracts.update_contract(s, other.contracts[0], {"end_date": date(2013, 3, 31)})
        exit_credit = run_corrections(s, on=date(2013, 4, 5))
        assert [(ln["period"], ln["amount_cents"]) for ln in exit_credit.lines] == [
            ("2013-04", -13213)]


def test_statute_change_on_1_september_recomputes_every_contract(engine):
    """fees.md §14.2, §14.4 (B §10(4), 3.10.14.2): a new statute from 1 September switches
    all contracts; September already debited at the old rates gets one back-charge per
    contract; earlier months stay untouched."""
    with work(engine) as s:
        city = build(s)
        fams = [family(s, city.kita, [(date(2011, 8, 1), KK, "9")]) for _ in range(3)]
        run_debit(s, "2013-08")
        run_debit(s, "2013-09")
        data = StatuteIn.model_validate({**DEFAULT_2011, "name": "Satzung 2013",
                                         "valid_from": date(2013, 9, 1)})
        data.params.full9["KK"] = data.params.full9["KK"] + 10
        data.params.published = {}
        data.params.cost_basis = {}  # the new 9-hour fee is given directly
        create_statute(s, data)
        pending = pending_corrections(s, on=date(2013, 9, 10))
        assert [(ln["period"], ln["amount_cents"]) for ln in pending] == [("2013-09", 1000)] * 3
        assert run_corrections(s, on=date(2013, 9, 10)).record_count == 3
        assert all(booked(s, "2013-09", f.contracts[0]) == 19936 for f in fams)
        assert run_debit(s, "2013-10").control_sum_cents == 3 * 19936


def test_statute_must_start_on_a_first(engine):
    """fees.md §14.4: the automatic switch is at a 1st of month."""
    with work(engine) as s:
        build(s)
        data = StatuteIn.model_validate({**DEFAULT_2011, "valid_from": date(2013, 9, 2)})
        with pytest.raises(RuleViolation) as caught:
            create_statute(s, data)
        assert caught.value.field == "valid_from"


def test_extra_care_is_charged_through_corrections(engine):
    """fees.md §8 (3.10.6): extra care reported after the month's run is charged as a
    back-charge of that month, never discounted."""
    with work(engine) as s:
        from ekita.core.schemas.fees import ExtraCareIn
        city = build(s)
        fam = family(s, city.kita, [(date(2007, 5, 10), KG, "6")])
        run_debit(s, "2012-09")
        cases.record_extra_care(s, ExtraCareIn(contract_id=fam.contracts[0],
                                               day=date(2012, 9, 5), exceeded_tiers=2,
                                               not_picked_up=True))
        result = run_corrections(s, on=date(2012, 10, 8))
        assert sorted((str(ln["fee_type"]), ln["amount_cents"]) for ln in result.lines) == [
            ("MEHRBETREUUNG", 1000), ("NICHTABHOLUNG", 2500)]


def test_bad_period_names_the_field(engine):
    """fees.md §11: a period is YYYY-MM; a clear error names record, field and rule."""
    with work(engine) as s:
        build(s)
        with pytest.raises(RuleViolation) as caught:
            run_debit(s, "2012-13")
        assert (caught.value.record, caught.value.field) == ("debit_run", "period")


def test_s12_new_pkn_after_custody_change(engine):
    """fees.md §16 S12, §10.3 (3.10.1.7): after a custody change the new PKN replaces the
    old one from its first day; the May run debits the new PKN, April kept the old one."""
    from ekita.core.services import people

    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2007, 5, 10), KG, "9"), (date(2010, 8, 1), KK, "9")])
        old = people.active_pkn(s, fam.children[1]).number
        run_debit(s, "2013-04")
        other = people.create_family(s, {})
        new = people.change_pkn(s, fam.children[1], other.id, date(2013, 5, 1)).number
        may = run_debit(s, "2013-05")
        pkns = {ln["contract_id"]: ln["pkn"] for ln in may.lines}
        assert pkns[fam.contracts[1]] == new != old
        assert old[:6] == pkns[fam.contracts[0]][:6]
        april = set(s.scalars(select(ReceivableLine.pkn).where(
            ReceivableLine.period == "2013-04")))
        assert old in april and new not in april
