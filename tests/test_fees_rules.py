"""The statute's arithmetic without a database (fees.md §2, §3, §4, §8)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ekita.core.errors import RuleViolation
from ekita.core.schemas.fees import StatuteIn
from ekita.core.services.fees.rules import (
    Discounts,
    FeeGroup,
    cents,
    extra_care_amount,
    full_fee,
    half,
    kita_group,
    months_completed_on,
    parents_fee,
)
from ekita.core.services.fees.statutes import DEFAULT_2011, PUBLISHED_2011, check_published

FULL9 = {g: Decimal(v) for g, v in DEFAULT_2011["params"]["full9"].items()}
D = Discounts()
COLUMNS = [(1, False), (2, False), (1, True), (2, True)]
CELLS = [(g, h, col, value) for g, rows in PUBLISHED_2011.items() for h, row in rows.items()
         for col, value in enumerate(row)]


def test_the_tables_have_88_values():
    """fees.md §4: "All 88 values follow" D1–D5."""
    assert len(CELLS) == 88


@pytest.mark.parametrize(("group", "hours", "column", "printed"), CELLS,
                         ids=[f"{g}-{h}h-col{c + 1}" for g, h, c, _ in CELLS])
def test_every_table_value_follows_from_the_9_hour_fee(group, hours, column, printed):
    """fees.md §3 tables, §4 D1–D5: each printed cell is reproduced from full(9 h) and the
    rules (rank, single parent), Decimal ROUND_HALF_UP on the rounded full fee."""
    rank, single = COLUMNS[column]
    full = full_fee(FULL9[FeeGroup(group)], Decimal(hours))
    assert parents_fee(full, rank, single, D) == Decimal(printed)


def test_spec_tables_match_the_seeded_configuration():
    """fees.md §3: the configured 2011 tables are exactly the ones printed in the spec."""
    spec = Path("/work/shared/spec/fees.md")
    if not spec.exists():
        pytest.skip("spec not available")
    text = spec.read_text().split("## 4.")[0]
    printed = re.findall(r"^\| ([\d,]+) h \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|$",
                         text, flags=re.M)
    ours = [(h.replace(".", ","), *[v.replace(".", ",") for v in row])
            for rows in PUBLISHED_2011.values() for h, row in rows.items()]
    assert sorted(printed) == sorted(ours)


@pytest.mark.parametrize(("group", "hours", "rank", "single", "expected"), [
    (FeeGroup.KK, "9", 1, False, "189.36"),  # T1
    (FeeGroup.KK, "9", 2, True, "94.68"),  # T2, not 102.26
    (FeeGroup.KG, "4.5", 2, True, "33.04"),  # T3, float gives 33.03
    (FeeGroup.KG, "4.5", 1, False, "66.07"),  # T4, float gives 66.06
    (FeeGroup.HORT, "9", 2, False, "71.00"),  # T5
    (FeeGroup.FOERD, "5", 1, True, "73.44"),  # T6
    (FeeGroup.KK, "6", 1, False, "126.24"),  # T9 (KTP uses the KK table)
    (FeeGroup.KK, "9", 3, False, "0.00"),  # Z2: from the 3rd Zählkind no fee
])
def test_spec_test_cases_t1_to_t9(group, hours, rank, single, expected):
    """fees.md §16 T1–T6, T9 and §5 Z2."""
    full = full_fee(FULL9[group], Decimal(hours))
    assert parents_fee(full, rank, single, D) == Decimal(expected)


def test_gaps_derived_by_d1():
    """fees.md §4 gaps (Interpretation): KK 11 h 231,44; KG 11 h 161,49; Hort 10 h 131,49,
    11 h 144,64; Förd. 10 h 163,20, 11 h 179,52."""
    assert full_fee(FULL9[FeeGroup.KK], Decimal(11)) == Decimal("231.44")
    assert full_fee(FULL9[FeeGroup.KG], Decimal(11)) == Decimal("161.49")
    assert full_fee(FULL9[FeeGroup.HORT], Decimal(10)) == Decimal("131.49")
    assert full_fee(FULL9[FeeGroup.HORT], Decimal(11)) == Decimal("144.64")
    assert full_fee(FULL9[FeeGroup.FOERD], Decimal(10)) == Decimal("163.20")
    assert full_fee(FULL9[FeeGroup.FOERD], Decimal(11)) == Decimal("179.52")


def test_a_wrong_published_value_is_refused():
    """fees.md §4: "use D1–D5 to validate new tables": one wrong cent names the cell."""
    data = StatuteIn.model_validate(DEFAULT_2011)
    data.params.published[FeeGroup.KG]["9"][3] = Decimal("66.06")
    with pytest.raises(RuleViolation) as caught:
        check_published(data.params)
    assert caught.value.field == "params.published.KG.9"


@pytest.mark.parametrize(("birth", "month", "option", "group"), [
    (date(2010, 3, 10), date(2013, 3, 1), False, FeeGroup.KK),  # T12: turns 3 on 10 March
    (date(2010, 3, 10), date(2013, 4, 1), False, FeeGroup.KG),
    (date(2010, 3, 1), date(2013, 3, 1), False, FeeGroup.KG),  # G3: birthday on the 1st
    (date(2010, 3, 1), date(2013, 2, 1), False, FeeGroup.KK),
    (date(2010, 5, 20), date(2013, 3, 1), True, FeeGroup.KK),  # S8
    (date(2010, 5, 20), date(2013, 4, 1), True, FeeGroup.KG),  # S8: 34-month option
    (date(2010, 5, 20), date(2013, 5, 1), False, FeeGroup.KK),
    (date(2010, 5, 20), date(2013, 6, 1), False, FeeGroup.KG),  # S8 without option
])
def test_age_at_the_start_of_the_month(birth, month, option, group):
    """fees.md §2 G1, G3, G4, T12, S8: the age at the start of the month decides; a birthday
    on the 1st completes the year at the start of that day."""
    assert kita_group(birth, month, option) == group


def test_missing_day_completes_on_the_first_of_next_month():
    """fees.md §2 G3: a missing day number → the 1st of the next month."""
    assert months_completed_on(date(2010, 3, 31), 11) == date(2011, 3, 1)
    assert months_completed_on(date(2010, 3, 31), 12) == date(2011, 3, 31)


@given(st.integers(min_value=0, max_value=1_000_000), st.integers(min_value=1, max_value=5),
       st.booleans())
def test_parents_fee_never_exceeds_full_and_is_whole_cents(full_cents, rank, single):
    """fees.md §4 D2–D6: percentages of the rounded full fee, never above it, whole cents."""
    full = Decimal(full_cents) / 100
    fee = parents_fee(full, rank, single, D)
    assert Decimal(0) <= fee <= full
    assert fee == fee.quantize(Decimal("0.01"))
    assert cents(fee) == int(fee * 100)


def test_half_month_and_extra_care():
    """fees.md §16 S9, S10, T13, T15: half of the final amount rounded half-up; 5 € per
    exceeded tier; Hort on school-free days 0 €."""
    assert half(Decimal("189.36")) == Decimal("94.68")
    assert half(Decimal("66.07")) == Decimal("33.04")
    assert extra_care_amount(2, Decimal(5), False) == Decimal("10.00")
    assert extra_care_amount(2, Decimal(5), True) == Decimal("0.00")


def test_no_float_in_the_fee_package():
    """fees.md §4 D6: money is never a float."""
    root = Path(__file__).parent.parent / "core" / "services" / "fees"
    for path in root.glob("*.py"):
        assert "float(" not in path.read_text(), path
