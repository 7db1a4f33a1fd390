"""Issue 7 tests: SIGKILL during a debit run and restart (fees.md §11.2, decisions F8)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from ekita.core.models.enums import CareType
from ekita.core.models.fees import DebitRun, ReceivableLine
from tests.conftest import work
from tests.delivery_kit import url_of
from tests.test_fees_world import build, family

SCRIPT = """
import sys
from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.services.fees.debit_run import run_debit
from tests.test_fees_world import prepare
prepare()
engine = make_engine(sys.argv[1])
with unit_of_work(engine, Principal.system("test", "killed-run")) as s:
    print("started", flush=True)
    run_debit(s, "2013-02")
print("done", flush=True)
"""


def _spawn(engine) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, url_of(engine)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_debit_run_killed_and_restarted_posts_each_contract_once(engine):
    """Issue 7 tests / fees.md §11.2: a debit run killed at a random moment and restarted:
    exactly one line per contract and month; control sum equal to the sum of the lines."""
    with work(engine) as s:
        city = build(s)
        contract_ids = []
        for n in range(60):
            fam = family(s, city.kita, [(date(2007, 1, 1 + n % 28), CareType.KINDERGARTEN, "9"),
                                        (date(2011, 1, 1 + n % 28), CareType.KRIPPE, "6")])
            contract_ids += fam.contracts
    rng = random.Random(7)
    for _round in range(3):
        proc = _spawn(engine)
        assert proc.stdout is not None
        proc.stdout.readline()  # "started": the run is under way
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    final = _spawn(engine)
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    again = _spawn(engine)
    again.communicate(timeout=120)
    with work(engine) as s:
        per_contract = dict(s.execute(select(ReceivableLine.contract_id, func.count())
                                      .group_by(ReceivableLine.contract_id)).all())
        total = s.scalar(select(func.sum(ReceivableLine.amount_cents)))
        runs = s.scalars(select(DebitRun)).all()
    assert per_contract == dict.fromkeys(contract_ids, 1)
    assert len(runs) == 1
    assert runs[0].control_sum_cents == total
    assert runs[0].record_count == len(contract_ids)
