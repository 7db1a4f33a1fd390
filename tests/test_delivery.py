"""The delivery engine (issue 4): outbox, retries, dead letters, transfer log, replay, inbox.

Reliability tests (a)–(c) of the issue run here on SQLite and PostgreSQL; (d)–(f), which
need processes, are in test_delivery_processes.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from ekita.core.access import Principal
from ekita.core.errors import RuleViolation
from ekita.core.models.audit import AuditEvent
from ekita.core.models.childminding import Childminder
from ekita.core.models.exchange import (
    DeliveryAttempt,
    JobRun,
    MessageStatus,
    OutboxMessage,
    RunStatus,
    TransferRecord,
)
from ekita.core.models.people import Child, Family, Guardian, GuardianContact, Pkn
from ekita.core.outbox import (
    PERSONAL_FIELDS,
    accept_inbound,
    checksum,
    declare_recipient,
    enqueue,
    payload_bytes,
)
from ekita.hub.config import RetryPolicy
from ekita.hub.delivery import ops
from ekita.hub.delivery.errors import PermanentError, TransientError
from ekita.hub.delivery.policy import AdapterRetry
from ekita.hub.testkit.adapters import NAME
from tests.conftest import work
from tests.delivery_kit import FAST, deliver_all, make_worker, peer, put

OPS = Principal.system("test", "operator")


@pytest.fixture(autouse=True)
def _recipient() -> None:
    declare_recipient(NAME, {"family_name", "first_name", "birth_date"})


def _message(engine, message_id: int) -> OutboxMessage:
    with work(engine) as s:
        return s.get_one(OutboxMessage, message_id)


def _attempts(engine, message_id: int) -> int:
    with work(engine) as s:
        return s.scalar(select(func.count()).select_from(DeliveryAttempt)
                        .where(DeliveryAttempt.message_id == message_id))


# -- outbox -----------------------------------------------------------------------------
def test_message_is_written_in_the_business_transaction(engine):
    """Issue 4.1: a rolled-back change leaves no message; a committed one leaves exactly one."""
    with work(engine) as s:
        s.add(Family(number="123456"))
        enqueue(s, adapter=NAME, operation="notice", business_key="123456", payload={"a": 1})
        s.rollback()
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        s.add(Family(number="123456"))
        queued = enqueue(s, adapter=NAME, operation="notice", business_key="123456",
                         payload={"a": 1})
        s.commit()
        assert queued.idempotency_key == f"{NAME}:notice:123456" and queued.created
        assert s.get_one(OutboxMessage, queued.id).status == MessageStatus.PENDING


def test_same_idempotency_key_is_stored_once(engine):
    """Issue 4.1: re-running a job that enqueues the same facts adds nothing."""
    first = put(engine, 3)
    assert put(engine, 3) == first
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_unregistered_recipient_is_refused(engine):
    """data-protection M4: only registered recipients receive data."""
    with work(engine) as s, pytest.raises(RuleViolation) as caught:
        enqueue(s, adapter="nobody", operation="x", business_key="1", payload={})
    assert caught.value.field == "adapter"


def test_undeclared_personal_field_is_refused_even_nested(engine):
    """data-protection M6 / issue 4.8: an adapter receives only the fields it declares."""
    with work(engine) as s:
        enqueue(s, adapter=NAME, operation="x", business_key="ok",
                payload={"children": [{"family_name": "A", "birth_date": "2024-01-01"}]})
        with pytest.raises(RuleViolation) as caught:
            enqueue(s, adapter=NAME, operation="x", business_key="bad",
                    payload={"children": [{"family_name": "A", "iban": "DE00"}]})
    assert caught.value.field == "iban"
    assert "iban" in caught.value.message


def test_every_personal_column_is_classified():
    """data-protection M6: a new personal column must be added to PERSONAL_FIELDS or exempted."""
    exempt = {"id", "created_at", "updated_at", "family_id", "child_id", "guardian_id",
              "successor_id", "number", "active", "valid_from", "valid_to", "kind", "value",
              "visibility", "label", "remark", "office_id", "capacity", "permit_valid_to",
              "cost_centre", "status",
              "stadtteil_nr"}
    for model in (Family, Child, Pkn, Guardian, GuardianContact, Childminder):
        for column in model.__table__.columns:
            assert column.key in PERSONAL_FIELDS | exempt, f"{model.__name__}.{column.key}"


# -- worker and retries -----------------------------------------------------------------
def test_a_peer_fails_twice_then_accepts(engine):
    """Issue 4 reliability (a): 500, 500, 200 → delivered once, 3 attempts recorded."""
    (mid,) = put(engine)
    with peer() as p:
        p.fail(2, status=500)
        stats = deliver_all(make_worker(engine, p))
        key = _message(engine, mid).idempotency_key
        assert p.effects[key] == 1
        assert p.attempts(key) == 3
    assert stats.delivered == 1 and stats.retried == 2
    assert _message(engine, mid).status == MessageStatus.DELIVERED
    assert _attempts(engine, mid) == 3


def test_b_permanent_error_goes_to_dead_letters_without_retry(engine):
    """Issue 4 reliability (b): a 4xx is permanent: dead letter after one attempt."""
    (mid,) = put(engine)
    with peer() as p:
        p.fail(1, status=422)
        deliver_all(make_worker(engine, p))
        assert p.attempts(_message(engine, mid).idempotency_key) == 1
    message = _message(engine, mid)
    assert message.status == MessageStatus.DEAD
    assert "HTTP 422" in message.last_error
    assert _attempts(engine, mid) == 1


def test_c_timeout_after_receipt_is_retried_with_the_same_key(engine):
    """Issue 4 reliability (c): the peer took effect but answered too late: one effect."""
    (mid,) = put(engine)
    retry = FAST.model_copy(update={"timeout_s": 0.3})
    with peer() as p:
        p.time_out_after_receiving(1, delay=1.0)
        deliver_all(make_worker(engine, p, retry=retry))
        key = _message(engine, mid).idempotency_key
        assert p.attempts(key) == 2
        assert p.effects[key] == 1
    assert _message(engine, mid).status == MessageStatus.DELIVERED
    with work(engine) as s:
        errors = s.scalars(select(DeliveryAttempt.error).where(
            DeliveryAttempt.message_id == mid).order_by(DeliveryAttempt.number)).all()
    assert errors[0].startswith("DeadlineExceeded: ") and "timeout" in errors[0]  # transient
    assert errors[1] is None


def test_connection_reset_is_transient(engine):
    """Issue 4.3: a reset connection is retried."""
    (mid,) = put(engine)
    with peer() as p:
        p.reset_connection(1)
        deliver_all(make_worker(engine, p))
        assert p.effects[_message(engine, mid).idempotency_key] == 1
    assert _attempts(engine, mid) == 2


def test_exhausted_retries_go_to_dead_letters_with_the_reason(engine):
    """Issue 4.3: after max_attempts the message is dead, with the last error."""
    (mid,) = put(engine)
    with peer() as p:
        p.fail(None, status=503)
        deliver_all(make_worker(engine, p))
    message = _message(engine, mid)
    assert message.status == MessageStatus.DEAD
    assert message.attempts == FAST.max_attempts
    assert message.last_error.startswith(f"retries exhausted after {FAST.max_attempts}")
    assert "HTTP 503" in message.last_error


def test_delivery_records_the_transfer(engine):
    """Issue 4.8 / data-protection M4: recipient, data set, record count and checksum."""
    with work(engine) as s:
        m = enqueue(s, adapter=NAME, operation="children", business_key="c1", record_count=2,
                    payload={"children": [{"first_name": "A"}, {"first_name": "B"}]})
        s.commit()
    with peer() as p:
        deliver_all(make_worker(engine, p))
        url = p.url
    with work(engine) as s:
        record = s.scalars(select(TransferRecord)).one()
    assert record.message_id == m.id
    assert record.recipient == f"{url}/messages"
    assert record.dataset == f"{NAME}.children"
    assert record.record_count == 2
    assert record.checksum == checksum(payload_bytes(
        {"children": [{"first_name": "A"}, {"first_name": "B"}]}))


def test_lease_expired_in_flight_message_is_claimed_again(engine):
    """Issue 4.3/4.4: a worker that died mid-delivery leaves its claim to expire."""
    (mid,) = put(engine)
    with peer() as p:
        w = make_worker(engine, p)
        rows, _ = w._claim(ops.utcnow())
        assert [r.id for r in rows] == [mid]
        assert make_worker(engine, p, name="w2").run_once().claimed == 0  # still leased
        with engine.begin() as conn:
            conn.execute(text("UPDATE outbox_message SET next_attempt_at = :t"),
                         {"t": ops.utcnow().replace(year=2000)})
        assert make_worker(engine, p, name="w2").run_once().delivered == 1


def test_claim_is_an_index_range_not_a_scan(engine):
    """Issue 4.4: claiming uses the (status, next_attempt_at) index."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan check reads SQLite's EXPLAIN QUERY PLAN")
    with engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox_message WHERE status IN "
            "('pending','failed','in_flight') AND next_attempt_at <= '2030-01-01' "
            "ORDER BY next_attempt_at LIMIT 50"))
    assert "ix_outbox_message_claim" in plan


# -- retry policy -----------------------------------------------------------------------
@given(initial=st.floats(0.01, 100), cap=st.floats(0.01, 1000), jitter=st.floats(0, 10),
       attempts=st.integers(1, 12))
def test_backoff_is_exponential_capped_and_jittered(initial, cap, jitter, attempts):
    """Issue 4.3: exponential backoff with cap and jitter; stop after max_attempts."""
    retry = AdapterRetry(RetryPolicy(max_attempts=attempts, backoff_initial_s=initial,
                                     backoff_max_s=cap, jitter_s=jitter))
    previous_floor = 0.0
    for n in range(1, attempts):
        decision = retry.after_failure(n, TransientError("x"))
        floor = min(initial * 2 ** (n - 1), cap)
        assert decision.retry
        assert floor <= decision.delay_s <= floor + jitter + 1e-9
        assert floor >= previous_floor
        previous_floor = floor
    assert not retry.after_failure(attempts, TransientError("x")).retry
    assert not retry.after_failure(1, PermanentError("x")).retry


# -- replay -----------------------------------------------------------------------------
def test_replay_requeues_dead_messages_with_an_audit_entry(engine):
    """Issue 4.5: dead messages re-queued by filter; each replay is audited."""
    ids = put(engine, 2)
    with peer() as p:
        p.fail(2, status=400)
        deliver_all(make_worker(engine, p))
        with work(engine) as s:
            assert ops.replay(s, OPS, flt=ops.MessageFilter(status=MessageStatus.DEAD)) == 2
            s.commit()
        deliver_all(make_worker(engine, p))
        assert sum(p.effects.values()) == 2
    with work(engine) as s:
        audits = s.scalars(select(AuditEvent).where(AuditEvent.entity == "outbox_message")).all()
        assert sorted(a.entity_id for a in audits) == sorted(ids)
        assert {a.action for a in audits} == {"replay"} and audits[0].actor == "operator"
        assert all(s.get_one(OutboxMessage, i).status == MessageStatus.DELIVERED for i in ids)


def test_replay_of_a_delivered_message_keeps_its_key(engine):
    """Issue 4.5: replaying a delivered message cannot double its effect at the peer."""
    (mid,) = put(engine)
    with peer() as p:
        deliver_all(make_worker(engine, p))
        with work(engine) as s:
            assert ops.replay(s, OPS, ids=[mid]) == 1
            s.commit()
        deliver_all(make_worker(engine, p))
        key = _message(engine, mid).idempotency_key
        assert p.attempts(key) == 2 and p.effects[key] == 1


def test_replay_refuses_pending_messages_and_empty_selections(engine):
    """Issue 4.5: only dead or delivered messages; a selection is required."""
    (mid,) = put(engine)
    with work(engine) as s:
        with pytest.raises(RuleViolation) as caught:
            ops.replay(s, OPS, ids=[mid])
        assert caught.value.field == "id"
        with pytest.raises(RuleViolation):
            ops.replay(s, OPS, flt=ops.MessageFilter())


# -- inbox and reconciliation -----------------------------------------------------------
def test_inbound_content_is_applied_once(engine):
    """Issue 4.2: the same inbound file, retried, is accepted once."""
    with work(engine) as s:
        assert accept_inbound(s, adapter="sap_fi", kind="arrears", content=b"a;b\n",
                              source="op.csv") is not None
        s.commit()
    with work(engine) as s:
        assert accept_inbound(s, adapter="sap_fi", kind="arrears", content=b"a;b\n",
                              source="op-retry.csv") is None
        assert accept_inbound(s, adapter="sap_fi", kind="arrears", content=b"a;c\n",
                              source="op2.csv") is not None


def test_job_run_balances_when_everything_is_delivered_or_dead(engine):
    """Issue 4.7: in = delivered + dead + quarantined with nothing in flight; control sums."""
    with work(engine) as s:
        run = JobRun(job="test.debits", scheduled_for=ops.utcnow(), trigger="manual",
                     status=RunStatus.SUCCEEDED, records_in=4, quarantined=1,
                     control_sum_cents=3000)
        s.add(run)
        s.flush()
        for i in range(3):
            enqueue(s, adapter=NAME, operation="debit", business_key=f"d{i}",
                    payload={"cents": 1000}, job_run=run, amount_cents=1000)
        s.commit()
        run_id = run.id
    with work(engine) as s:
        before = ops.job_run(s, run_id)
    assert before["messages_produced"] == 3 and before["in_flight"] == 3
    assert not before["balanced"]
    with peer() as p:
        p.fail(1, status=400, keys=[f"{NAME}:debit:d0"])
        deliver_all(make_worker(engine, p))
    with work(engine) as s:
        after = ops.job_run(s, run_id)
    assert (after["delivered"], after["dead"], after["quarantined"]) == (2, 1, 1)
    assert after["balanced"]
    assert after["produced_sum_cents"] == after["control_sum_cents"] == 3000
    assert after["delivered_sum_cents"] == 2000


def test_adapter_health_reports_last_success_and_error_rate(engine):
    """Issue 4.9: adapter health (last success, error rate)."""
    put(engine, 2)
    with peer() as p:
        p.fail(2, status=500)
        deliver_all(make_worker(engine, p))
    with work(engine) as s:
        (health,) = ops.adapter_health(s, [NAME])
    assert health["last_success"] is not None
    assert health["attempts_window"] == 4 and health["error_rate"] == 0.5
    assert health["messages"] == {"delivered": 2}
