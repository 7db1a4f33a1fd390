"""Monthly assessment on SQLite and PostgreSQL (fees.md §5–§9, §16; Lastenheft 3.10.1)."""

from __future__ import annotations

from datetime import date

from ekita.core.models.enums import CareType
from ekita.core.models.fees import ExtraCare, FactKind
from ekita.core.schemas.fees import ExtraCareIn, FactIn
from ekita.core.services.fees import cases
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.debit_run import run_debit
from ekita.core.services.fees.rules import FeeGroup
from tests.conftest import work
from tests.test_fees_world import add_contract, build, family, fees

KG, KK, HORT = CareType.KINDERGARTEN, CareType.KRIPPE, CareType.HORT
SEP12 = date(2012, 9, 1)
S1 = [(date(2007, 5, 10), KG, "9"), (date(2010, 8, 1), KK, "9"), (date(2011, 3, 15), KK, "6")]


def test_s1_three_siblings_third_free(engine):
    """fees.md §16 S1, T7, §5 Z1–Z3: 100 / 60 / 0 % by age: 132,13; 113,62; 0,00."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, S1)
        assert fees(s, SEP12, fam.contracts) == [13213, 11362, 0]


def test_s2_single_parent(engine):
    """fees.md §16 S2, §6 (B §10(6)): 118,92; 94,68; 0,00 — total 213,60."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, S1, single=True)
        assert fees(s, SEP12, fam.contracts) == [11892, 9468, 0]


def test_s3_foster_child_not_counted(engine):
    """fees.md §16 S3, §5 Z4 (§ 33 SGB VIII): A pays nothing and does not count."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, S1)
        cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.FOSTER_CARE,
                                 valid_from=date(2011, 1, 1)))
        assert fees(s, SEP12, fam.contracts) == [0, 18936, 7574]


def test_t8_heilpaed_place_not_counted(engine):
    """fees.md §16 T8, B §10(7): the oldest in a heilpädagogische place pays nothing, is
    not counted; the others pay 100 % and 60 %."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2007, 5, 10), CareType.HEILPAEDAGOGISCH, "9"),
                                    *S1[1:]])
        assert fees(s, SEP12, fam.contracts) == [0, 18936, 7574]


def test_s4_sibling_leaving_recomputes_the_others(engine):
    """fees.md §16 S4, §5 Z6, §13: A leaves 31.10.2012: from 11/2012 B 189,36, C 75,74."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, S1)
        from ekita.core.services import contracts
        contracts.update_contract(s, fam.contracts[0], {"end_date": date(2012, 10, 31)})
        assert fees(s, date(2012, 10, 1), fam.contracts) == [13213, 11362, 0]
        assert fees(s, date(2012, 11, 1), fam.contracts) == [0, 18936, 7574]


def test_sibling_in_care_outside_dresden_counts(engine):
    """fees.md §5 Z1, 3.10.1.1: an older sibling in care in another municipality makes the
    Dresden child the 2nd Zählkind."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [S1[1]])
        from ekita.core.services import people
        older = people.create_child(s, {"family_id": fam.id, "family_name": "Beitrag",
                                        "first_name": "Extern", "birth_date": date(2007, 1, 1)})
        assert fees(s, SEP12, fam.contracts) == [18936]
        cases.add_fact(s, FactIn(child_id=older.id, kind=FactKind.CARE_OUTSIDE_DRESDEN,
                                 valid_from=date(2012, 1, 1)))
        assert fees(s, SEP12, fam.contracts) == [11362]


def test_wechselmodell_links_households(engine):
    """fees.md §5 Z5, Lastenheft 3.10.1.1: the father's older child of another household is
    the 1st Zählkind; his new child gets the 2nd-child discount."""
    with work(engine) as s:
        city = build(s)
        first = family(s, city.kita, [S1[0]])
        second = family(s, city.free_kita, [S1[1]])
        assert fees(s, SEP12, second.contracts) == [18936]
        from ekita.core.models.fees import SiblingLink
        s.add(SiblingLink(child_id=first.children[0], sibling_id=second.children[0],
                          valid_from=date(2012, 1, 1)))
        s.flush()
        assert fees(s, SEP12, first.contracts + second.contracts) == [13213, 11362]


def test_half_month_only_with_the_case_flag(engine):
    """fees.md §7.2, §16 T10, T11, S9, S10 (B §10(1)): 50 % in the start month from the
    15th and in the end month up to the 15th — only with the case flag."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2011, 3, 1), KK, "9")], start=date(2012, 9, 15))
        assert fees(s, SEP12, fam.contracts) == [18936]
        cases.add_fact(s, FactIn(child_id=fam.children[0], contract_id=fam.contracts[0],
                                 kind=FactKind.HALF_MONTH, valid_from=date(2012, 9, 1),
                                 valid_to=date(2012, 9, 30)))
        assert fees(s, SEP12, fam.contracts) == [9468]
        assert fees(s, date(2012, 10, 1), fam.contracts) == [18936]
        ending = family(s, city.kita, [(date(2007, 5, 10), KG, "4.5")], end=date(2013, 7, 15),
                        single=True)
        cases.add_fact(s, FactIn(child_id=ending.children[0], kind=FactKind.HALF_MONTH,
                                 valid_from=date(2013, 7, 1), valid_to=date(2013, 7, 31)))
        assert fees(s, date(2013, 7, 1), ending.contracts) == [2973]  # 59,46 × 0,5


def test_age_switch_and_34_month_option(engine):
    """fees.md §2 G1, G4, §16 T12, S8: KK in the birthday month, KG from the next; with the
    facility's 34-month option from the completed 34th month."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2010, 5, 20), KK, "9")])
        a = MonthAssessor(s, date(2013, 5, 1)).for_contract(fam.contracts[0])
        assert (a.group, a.amount_cents) == (FeeGroup.KK, 18936)
        a = MonthAssessor(s, date(2013, 6, 1)).for_contract(fam.contracts[0])
        assert (a.group, a.amount_cents) == (FeeGroup.KG, 13213)
        from ekita.core.models.fees import FacilityFeeOption
        s.add(FacilityFeeOption(facility_id=city.kita, kg_from_34_months=True))
        s.flush()
        assert MonthAssessor(s, date(2013, 4, 1)).for_contract(fam.contracts[0]).group == \
            FeeGroup.KG


def test_override_keeps_the_computed_value_visible(engine):
    """Lastenheft 3.10.1: a manual amount, the computed one stays visible."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [S1[1]])
        cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.OVERRIDE,
                                 valid_from=SEP12, amount_cents=10000))
        a = MonthAssessor(s, SEP12).for_contract(fam.contracts[0])
        assert (a.amount_cents, a.computed_cents) == (10000, 18936)


def test_waiver_keeps_the_fee_above_nine_hours(engine):
    """fees.md §9.5, §16 S6, S7: a waiver covers the regular care time only: at 10 h
    21,04 € stay payable; at 9 h nothing."""
    with work(engine) as s:
        city = build(s)
        nine = family(s, city.kita, [S1[1]])
        ten = family(s, city.kita, [(date(2010, 8, 1), KK, "10")])
        for fam in (nine, ten):
            cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.WAIVER,
                                     valid_from=SEP12, valid_to=date(2013, 8, 31)))
        assert fees(s, SEP12, nine.contracts + ten.contracts) == [0, 2104]


def test_extra_care_never_discounted(engine):
    """fees.md §8, §16 T13, T14, S13: 6 h contract with one 8 h day → 10 €, one non-pickup
    25 €, not waived: 35 €."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2007, 5, 10), KG, "6")])
        cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.WAIVER,
                                 valid_from=SEP12, valid_to=date(2013, 8, 31)))
        cases.record_extra_care(s, ExtraCareIn(contract_id=fam.contracts[0],
                                               day=date(2012, 9, 5), exceeded_tiers=2))
        cases.record_extra_care(s, ExtraCareIn(contract_id=fam.contracts[0],
                                               day=date(2012, 9, 6), not_picked_up=True))
        a = MonthAssessor(s, SEP12).for_contract(fam.contracts[0])
        assert a.amount_cents == 0
        assert sum(a.extra_cents.values()) == 3500
        hort = family(s, city.kita, [(date(2005, 1, 1), HORT, "5")])
        s.add(ExtraCare(contract_id=hort.contracts[0], day=date(2012, 9, 7), exceeded_tiers=2,
                        school_free_day=True))
        s.flush()
        assert sum(MonthAssessor(s, SEP12).for_contract(hort.contracts[0]).extra_cents
                   .values()) == 0  # T15


def test_free_carrier_contracts_are_not_debited(engine):
    """fees.md §11.1 (3.10.9, Anlage H 69): the debit run covers municipal facilities and
    childminding only; free carriers set their own fees."""
    with work(engine) as s:
        city = build(s)
        own = family(s, city.kita, [S1[0]])
        family(s, city.free_kita, [S1[0]])
        result = run_debit(s, "2012-09")
        assert {line["contract_id"] for line in result.lines} == set(own.contracts)


def test_two_contracts_of_one_child_share_its_rank(engine):
    """fees.md §5 Z3: ranks are per child, not per contract."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [S1[0], S1[1]])
        # the younger child also has a Hort-like second contract elsewhere: still rank 2
        add_contract(s, city.free_kita, fam.children[1], fam.guardian, KK, "4.5")
        a = MonthAssessor(s, SEP12)
        assert a.ranks[fam.children[1]] == 2


def test_facility_change_mid_month_charges_one_fee(engine):
    """fees.md §7.1 (B §10(1)): the fee is per child and month — a child moving to another
    facility mid-month pays once (decisions F15), on the contract that started first."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [S1[0]], end=date(2012, 9, 15))
        second = add_contract(s, city.kita, fam.children[0], fam.guardian, KG, "9",
                              start=date(2012, 9, 16))
        assert fees(s, SEP12, [*fam.contracts, second]) == [13213, 0]
        assert fees(s, date(2012, 10, 1), [second]) == [13213]
