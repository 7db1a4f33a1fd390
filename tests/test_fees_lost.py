"""The monthly lost-fee overview (fees.md §15.1; Lastenheft 3.10.12.1).

Expected values are computed here from the statute's published rules (D1: full fee of
the tier from the 9-hour fee; D2–D5: the parents' share), not taken from the engine.
Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from ekita.core.models.enums import CareType, Role
from ekita.core.models.fees import FactKind
from ekita.core.schemas.fees import FactIn
from ekita.core.services.fees import cases
from ekita.core.services.fees.lost_fees import PARTS, lost_fees
from ekita.core.services.fees.rules import Discounts, cents, full_fee, parents_fee
from ekita.core.services.fees.statutes import DEFAULT_2011
from tests.api import client, key
from tests.conftest import work
from tests.test_fees_world import build, family

KK, KG, HEIL = CareType.KRIPPE, CareType.KINDERGARTEN, CareType.HEILPAEDAGOGISCH
SEP12 = date(2012, 9, 1)
D = Discounts()


def _fee(group: str, hours: str, rank: int = 1, single: bool = False) -> int:
    full = full_fee(Decimal(DEFAULT_2011["params"]["full9"][group]), Decimal(hours))
    return cents(parents_fee(full, rank, single, D))


def _city(s):
    city = build(s)
    family(s, city.kita, [(date(2010, 8, 1), KK, "9"), (date(2008, 5, 10), KG, "6")])
    family(s, city.kita, [(date(2008, 2, 1), KG, "9")], single=True)
    waived = family(s, city.kita, [(date(2008, 3, 1), KG, "9")])
    cases.add_fact(s, FactIn(child_id=waived.children[0], kind=FactKind.WAIVER,
                             valid_from=SEP12, valid_to=date(2013, 8, 31)))
    family(s, city.kita, [(date(2008, 4, 1), HEIL, "9")])
    family(s, city.free_kita, [(date(2008, 2, 1), KG, "9")])  # fee set by its carrier
    return city


def test_lost_fees_by_cause_add_up_to_base_minus_charged(engine):
    """fees.md §15.1: sibling, single-parent, income-based (waiver) and no-fee-case losses,
    absolute and in per cent, for the municipal facilities only (3.10.2)."""
    with work(engine) as s:
        _city(s)
        report = lost_fees(s, "2012-09")
    kk9, kg6, kg9 = _fee("KK", "9"), _fee("KG", "6"), _fee("KG", "9")
    # Zählkinder are ranked by age: the older Kindergarten child is the first.
    assert report.siblings == kk9 - _fee("KK", "9", rank=2)
    assert report.single_parents == kg9 - _fee("KG", "9", single=True)
    assert report.waivers == kg9  # a full waiver of a 9-hour place (no time above 9 h)
    assert report.no_fee_cases == kg9  # the heilpädagogisch placed child
    assert (report.half_month, report.overrides) == (0, 0)
    assert report.base_cents == kk9 + kg6 + 3 * kg9
    assert report.charged_cents == report.base_cents - report.lost_cents
    assert report.contracts == 5
    out = report.as_dict()
    assert set(out["parts"]) == set(PARTS)
    expected = (Decimal(report.siblings) * 100 / report.base_cents).quantize(Decimal("0.01"))
    assert out["parts"]["siblings"]["percent"] == str(expected)


def test_lost_fees_api_and_cli(engine):
    """fees.md §15.1 for the fee office (API) and the monthly figure to cost accounting
    (CLI, JSON); facility leads get 403 (data-protection M8)."""
    with work(engine) as s:
        city = _city(s)
    api = client(engine)
    r = api.get("/api/v1/fees/reports/lost-fees", params={"period": "2012-09"},
                headers=key(engine, Role.FINANCE))
    assert r.status_code == 200 and r.json()["lost_cents"] > 0
    assert api.get("/api/v1/fees/reports/lost-fees", params={"period": "2012-09"},
                   headers=key(engine, Role.FACILITY_LEAD, facility_id=city.kita)
                   ).status_code == 403
    from tests.test_fees_cli_jobs import _cli

    done = _cli(engine, "lost-fees", "--month", "2012-09")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == r.json()
