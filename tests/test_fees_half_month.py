"""Half month together with a waiver, a reduction or extra care (issue 13 item 6).

Rule (docs/fees.md "Monthly assessment", decision on issue 13 item 6): the waiver or
reduction of Anlage B §13(1),(3) is applied to the whole month's fee, which keeps the part
above the regular care time; the half month of Anlage B §10(1) then halves what is left
(fees.md §7.2, "50 % of the final amount"). Extra care (Anlage B §5(1),(2), §12(6)) is a
separate fee per use: never waived and never halved.

Every expected amount is computed here from the statute's numbers (Anlage B §11 fee table:
Krippe 9 h 189,36 €, Kindergarten 9 h 132,13 €), not with the engine's helpers.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ekita.core.models.enums import CareType
from ekita.core.models.fees import FactKind, FeeType
from ekita.core.schemas.fees import ExtraCareIn, FactIn
from ekita.core.services.fees import cases
from ekita.core.services.fees.assessment import MonthAssessor
from tests.conftest import work
from tests.test_fees_world import build, family, fees

KG, KK = CareType.KINDERGARTEN, CareType.KRIPPE
SEP12, SEP15, SEP30 = date(2012, 9, 1), date(2012, 9, 15), date(2012, 9, 30)
KK9, KG9 = Decimal("189.36"), Decimal("132.13")  # Anlage B §11, 1st Zählkind


def _cents(amount: Decimal) -> int:
    """Round half-up to the cent (fees.md D6) and give integer cents."""
    return int(amount.quantize(Decimal("0.01"), ROUND_HALF_UP) * 100)


def _tier(full9: Decimal, hours: int) -> Decimal:
    """fees.md D1: full(h) = round_half_up(full(9) × h / 9)."""
    return (full9 * hours / 9).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _flag_half(s, child_id: int, contract_id: int, first: date, last: date) -> None:
    cases.add_fact(s, FactIn(child_id=child_id, contract_id=contract_id,
                             kind=FactKind.HALF_MONTH, valid_from=first, valid_to=last))


def _waive(s, child_id: int, kind: FactKind = FactKind.WAIVER,
           amount_cents: int | None = None) -> None:
    cases.add_fact(s, FactIn(child_id=child_id, kind=kind, valid_from=SEP12,
                             valid_to=date(2013, 8, 31), amount_cents=amount_cents))


def test_half_month_with_full_waiver_halves_the_part_above_regular_care(engine):
    """Issue 13 item 6, Anlage B §10(1) + §13(3): threat — a full waiver in a half month
    swallowing the Mehrbetreuung share that §13(3) leaves payable. Krippe 10 h, start on
    the 15th: the waiver leaves 210,40 − 189,36 = 21,04, the half month 10,52; at 9 h the
    waiver leaves nothing, so the half month is moot (0,00)."""
    with work(engine) as s:
        city = build(s)
        nine = family(s, city.kita, [(date(2011, 3, 1), KK, "9")], start=SEP15)
        ten = family(s, city.kita, [(date(2011, 3, 1), KK, "10")], start=SEP15)
        for fam in (nine, ten):
            _flag_half(s, fam.children[0], fam.contracts[0], SEP12, SEP30)
            _waive(s, fam.children[0])
        above = _tier(KK9, 10) - KK9
        assert above == Decimal("21.04")
        assert fees(s, SEP12, nine.contracts + ten.contracts) == [0, _cents(above / 2)]
        assert _cents(above / 2) == 1052
        # The next month is a whole month again: the waiver alone, 21,04 stays payable.
        assert fees(s, date(2012, 10, 1), ten.contracts) == [_cents(above)]


def test_half_month_with_waiver_in_the_end_month_rounds_once(engine):
    """Issue 13 item 6, Anlage B §10(1) (end by the 15th), §10(6), §13(3), fees.md D6:
    threat — rounding the halves separately. Single parent, Kindergarten 10 h, ending
    15.07.2013, waiver: 90 % of 146,81 = 132,13, 90 % of 132,13 = 118,92, above 13,21,
    half 6,605 → 6,61 (one half-up rounding of the final amount)."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2007, 5, 10), KG, "10")], end=date(2013, 7, 15),
                     single=True)
        _flag_half(s, fam.children[0], fam.contracts[0], date(2013, 7, 1), date(2013, 7, 31))
        cases.add_fact(s, FactIn(child_id=fam.children[0], kind=FactKind.WAIVER,
                                 valid_from=date(2013, 7, 1), valid_to=date(2013, 7, 31)))
        ten = (_tier(KG9, 10) * Decimal("0.90")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        nine = (KG9 * Decimal("0.90")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert (ten, nine) == (Decimal("132.13"), Decimal("118.92"))
        assert fees(s, date(2013, 7, 1), fam.contracts) == [_cents((ten - nine) / 2)] == [661]


def test_half_month_with_reduction_halves_the_reduced_fee(engine):
    """Issue 13 item 6, Anlage B §10(1) + §13(1),(3) (partial waiver = Ermäßigung): threat
    — charging the reduced monthly amount in full in a half month. Krippe 9 h reduced to
    100,00 → 50,00; Krippe 10 h reduced to 50,00 keeps 21,04 above 9 h → (50,00 + 21,04)/2
    = 35,52. The unreduced half fee (94,68 / 105,20) stays visible as computed."""
    with work(engine) as s:
        city = build(s)
        nine = family(s, city.kita, [(date(2011, 3, 1), KK, "9")], start=SEP15)
        ten = family(s, city.kita, [(date(2011, 3, 1), KK, "10")], start=SEP15)
        for fam, reduced in ((nine, 10000), (ten, 5000)):
            _flag_half(s, fam.children[0], fam.contracts[0], SEP12, SEP30)
            _waive(s, fam.children[0], FactKind.REDUCTION, reduced)
        expected = [_cents(Decimal("100.00") / 2),
                    _cents((Decimal("50.00") + _tier(KK9, 10) - KK9) / 2)]
        assert expected == [5000, 3552]
        assert fees(s, SEP12, nine.contracts + ten.contracts) == expected
        assessor = MonthAssessor(s, SEP12)
        assert [assessor.for_contract(c).computed_cents
                for c in nine.contracts + ten.contracts] == [_cents(KK9 / 2),
                                                             _cents(_tier(KK9, 10) / 2)]


def test_half_month_never_halves_extra_care(engine):
    """Issue 13 item 6, Anlage B §5(1),(2), §12(6), §13(3), fees.md §8: threat — halving or
    waiving the per-use extra-care fees with the half month. Kindergarten 6 h from the
    20th with a waiver: parents' fee 0,00, yet one day two tiers over (2 × 5 €) and one
    non-pickup (25 €) are charged in full; without the waiver the fee is 88,09 / 2 = 44,05."""
    with work(engine) as s:
        city = build(s)
        start = date(2012, 9, 20)
        plain = family(s, city.kita, [(date(2007, 5, 10), KG, "6")], start=start)
        waived = family(s, city.kita, [(date(2007, 5, 10), KG, "6")], start=start)
        _waive(s, waived.children[0])
        for fam in (plain, waived):
            _flag_half(s, fam.children[0], fam.contracts[0], SEP12, SEP30)
            cases.record_extra_care(s, ExtraCareIn(contract_id=fam.contracts[0],
                                                   day=date(2012, 9, 24), exceeded_tiers=2))
            cases.record_extra_care(s, ExtraCareIn(contract_id=fam.contracts[0],
                                                   day=date(2012, 9, 25), not_picked_up=True))
        assert _tier(KG9, 6) == Decimal("88.09")
        assert fees(s, SEP12, plain.contracts + waived.contracts) == [
            _cents(_tier(KG9, 6) / 2), 0] == [4405, 0]
        assessor = MonthAssessor(s, SEP12)
        for fam in (plain, waived):
            extra = assessor.for_contract(fam.contracts[0]).extra_cents
            assert (extra[FeeType.MEHRBETREUUNG], extra[FeeType.NICHTABHOLUNG]) == (
                _cents(2 * Decimal("5")), _cents(Decimal("25")))
