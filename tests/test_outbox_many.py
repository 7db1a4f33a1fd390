"""``enqueue_many``: the rules of ``enqueue`` for many messages at once (decisions F7).

Runs on SQLite and, when reachable, PostgreSQL (``COPY`` + ``INSERT … SELECT … ON
CONFLICT DO NOTHING`` there, ``executemany`` on SQLite).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.errors import RuleViolation
from ekita.core.models.exchange import JobRun, MessageStatus, OutboxMessage, RunStatus
from ekita.core.outbox import declare_recipient, enqueue, enqueue_many
from tests.conftest import work

ADAPTER = "bulk_test"
COLUMNS = ("adapter", "operation", "business_key", "payload", "payload_ref", "record_count",
           "amount_cents", "status", "attempts", "job_run_id", "last_error", "claimed_by",
           "delivered_at", "latency_ms")


@pytest.fixture(autouse=True)
def _recipient() -> None:
    declare_recipient(ADAPTER, {"family_name"})


def _count(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(OutboxMessage))


def _by_key(s: Session, key: str) -> OutboxMessage:
    return s.scalars(select(OutboxMessage).where(OutboxMessage.business_key == key)).one()


def test_messages_are_stored_as_enqueue_stores_them(engine):
    """interfaces.md §5 / decisions F7: the same columns, key format and status as ``enqueue``."""
    with work(engine) as s:
        run = JobRun(job="test.many", scheduled_for=utcnow(), trigger="manual",
                     status=RunStatus.RUNNING)
        s.add(run)
        payload = {"family_name": "A", "nested": {"n": [1, 2]}, "text": "Grüße"}
        enqueue(s, adapter=ADAPTER, operation="op", business_key="one", payload=payload,
                job_run=run, amount_cents=150)
        enqueue_many(s, ADAPTER, "op", [("two", payload, 150), ("three", None, None),
                                        ("four", MappingProxyType({"x": 1}), None)],
                     job_run=run)
    with work(engine) as s:
        one, two, three = (_by_key(s, k) for k in ("one", "two", "three"))
        assert two.idempotency_key == f"{ADAPTER}:op:two"
        assert {c: getattr(two, c) for c in COLUMNS} == {
            c: getattr(one, c) for c in COLUMNS} | {"business_key": "two"}
        assert two.status == MessageStatus.PENDING and two.job_run_id is not None
        assert two.next_attempt_at == two.created_at == two.updated_at
        assert three.payload is None and three.amount_cents is None
        assert three.record_count == 1
        assert _by_key(s, "four").payload == {"x": 1}


def test_not_before_sets_the_first_attempt(engine):
    """decisions F7: ``not_before`` as in ``enqueue``; the creation time stays now."""
    later = utcnow().replace(microsecond=0) + timedelta(hours=2)
    with work(engine) as s:
        enqueue_many(s, ADAPTER, "op", [("k", {"a": 1}, None)], not_before=later)
    with work(engine) as s:
        message = _by_key(s, "k")
        assert _utc(message.next_attempt_at) == later and _utc(message.created_at) < later


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive UTC datetimes back, PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_undeclared_personal_field_is_refused_and_nothing_is_written(engine):
    """data-protection M6: every payload is checked, also the last and nested ones."""
    items = [(f"k{i}", {"family_name": "A"}, None) for i in range(5)]
    items.append(("bad", {"children": [{"family_name": "A", "iban": "DE00"}]}, None))
    with work(engine) as s, pytest.raises(RuleViolation) as caught:
        enqueue_many(s, ADAPTER, "op", items)
    assert caught.value.field == "iban"
    with work(engine) as s:
        assert _count(s) == 0


def test_unregistered_recipient_is_refused(engine):
    """data-protection M4: only registered recipients receive data."""
    with work(engine) as s, pytest.raises(RuleViolation) as caught:
        enqueue_many(s, "nobody", "op", [("k", {}, None)])
    assert caught.value.field == "adapter"


def test_an_existing_key_is_kept(engine):
    """Issue 4.1 / decisions F7: re-running a bulk job adds only the new facts."""
    with work(engine) as s:
        enqueue(s, adapter=ADAPTER, operation="op", business_key="a", payload={"v": 1})
    with work(engine) as s:
        enqueue_many(s, ADAPTER, "op", [("a", {"v": 2}, 5), ("b", {"v": 2}, 5)])
    with work(engine) as s:
        enqueue_many(s, ADAPTER, "op", [("a", {"v": 3}, 7), ("b", {"v": 3}, 7)])
    with work(engine) as s:
        assert _count(s) == 2
        assert _by_key(s, "a").payload == {"v": 1} and _by_key(s, "a").amount_cents is None
        assert _by_key(s, "b").payload == {"v": 2} and _by_key(s, "b").amount_cents == 5


def test_messages_roll_back_with_the_session(engine):
    """Issue 4.1 (transactional outbox): a rolled-back business change leaves no message."""
    with work(engine) as s:
        enqueue_many(s, ADAPTER, "op", [(f"k{i}", {"i": i}, i) for i in range(1500)])
        s.rollback()
    with work(engine) as s:
        assert _count(s) == 0
        enqueue_many(s, ADAPTER, "op", [(f"k{i}", {"i": i}, i) for i in range(1500)])
    with work(engine) as s:
        assert _count(s) == 1500
