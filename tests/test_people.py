"""Families, PKN, children and guardians (Lastenheft 3.10.1.7, 3.14.1.1–3; decisions D13)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models import Child, Pkn
from ekita.core.services import people as svc
from tests.conftest import work


def new_child(s, family_id, name="Kind", birth=date(2023, 5, 1)):
    return svc.create_child(s, {"family_id": family_id, "family_name": "Fam", "first_name": name,
                                "birth_date": birth})


def test_pkn_is_family_number_plus_child_number(engine):
    """3.10.1.7 / D13: 8 digits, 6 for the family and 2 for the child."""
    with work(engine) as s:
        family = svc.create_family(s, {})
        first = new_child(s, family.id, "Anna")
        second = new_child(s, family.id, "Ben")
        numbers = [svc.active_pkn(s, c.id).number for c in (first, second)]
    assert numbers == [f"{family.number}01", f"{family.number}02"]
    assert all(len(n) == 8 and n.isdigit() for n in numbers)


def test_family_number_is_six_digits_and_unique(engine):
    """D13: the family part has 6 digits and identifies the family."""
    with work(engine) as s:
        a = svc.create_family(s, {"number": "123456"})
        b = svc.create_family(s, {})
    assert a.number == "123456" and len(b.number) == 6 and b.number != a.number
    with pytest.raises(Conflict), work(engine) as s:
        svc.create_family(s, {"number": "123456"})


def test_pkn_change_inactivates_old_and_keeps_link(engine):
    """3.10.1.7: a PKN change inactivates the old number and links it to its successor."""
    with work(engine) as s:
        old_family = svc.create_family(s, {})
        new_family = svc.create_family(s, {})
        child = new_child(s, old_family.id)
        old = svc.active_pkn(s, child.id)
        new = svc.change_pkn(s, child.id, new_family.id, date(2026, 8, 1))
    with work(engine) as s:
        old = s.get(Pkn, old.id)
        assert not old.active and old.valid_to == date(2026, 7, 31)
        assert old.successor_id == new.id
        assert new.number.startswith(new_family.number) and new.active
        assert s.get(Child, child.id).family_id == new_family.id
    with pytest.raises(Conflict), work(engine) as s:
        svc.change_pkn(s, child.id, new_family.id, date(2027, 1, 1))


def test_child_changes_family_only_through_pkn_change(engine):
    """3.10.1.7: the family link follows the PKN, never a plain edit."""
    with work(engine) as s:
        f1, f2 = svc.create_family(s, {}), svc.create_family(s, {})
        child = new_child(s, f1.id)
    with pytest.raises(RuleViolation) as exc, work(engine) as s:
        svc.update_child(s, child.id, {"family_id": f2.id})
    assert exc.value.field == "family_id"


def test_unborn_child_is_not_master_data(engine):
    """3.3.2: children are registered once born (unborn ones only via placement)."""
    with pytest.raises(RuleViolation) as exc, work(engine) as s:
        family = svc.create_family(s, {})
        new_child(s, family.id, birth=date.today() + timedelta(days=30))
    assert exc.value.field == "birth_date"


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 400)), min_size=1, max_size=6))
def test_pkn_chain_property(engine, moves):
    """3.10.1.7, property: after any sequence of PKN changes a child has exactly one active
    PKN, the old ones form one successor chain with consecutive validities, none reused."""
    with work(engine) as s:
        families = [svc.create_family(s, {}).id for _ in range(4)]
        child = new_child(s, families[0]).id
    day = date(2024, 1, 1)
    for target, gap in moves:
        day += timedelta(days=gap)
        try:
            with work(engine) as s:
                svc.change_pkn(s, child, families[target], day)
        except Conflict:
            pass  # a move to the current family is refused, and changes nothing
    with work(engine) as s:
        pkns = s.scalars(select(Pkn).where(Pkn.child_id == child).order_by(Pkn.valid_from)).all()
        assert [p.active for p in pkns].count(True) == 1 and pkns[-1].active
        for before, after in itertools.pairwise(pkns):
            assert before.successor_id == after.id
            assert before.valid_to == after.valid_from - timedelta(days=1)
        assert len({p.number for p in pkns}) == len(pkns)
        assert s.get(Child, child).family_id == pkns[-1].family_id
