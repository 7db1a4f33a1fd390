"""SAP-FI delivery (issue 7 item 3 and 5; interfaces.md §2, §5): through the real worker to
the sandbox SAP peer over HTTP, to the test kit's ``SandboxPeer`` for faults, and into a
drop directory. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx

from ekita.core.access import Principal
from ekita.core.models.exchange import MessageStatus
from ekita.hub.testkit.peer import SandboxPeer
from ekita.plugins.sap_fi.peer import SapPeer
from tests.conftest import work
from tests.test_sap_fi import FAST, deliver_all, enqueue_run, line, message, sap_worker

OPS = Principal.system("test", "operator")


def three_lines() -> list[dict]:
    return [line(pkn="10000101", contract_id=1, amount_cents=21350),
            line(pkn="10000201", contract_id=2, amount_cents=10675),
            line(pkn="10000301", contract_id=3, amount_cents=0)]


def test_debit_run_reaches_the_sap_peer_and_reconciles(engine):
    """Lastenheft 3.10.9, fees.md §11.2, interfaces.md §5 BatchTrailer: every receivable
    takes effect once at the SAP peer and the trailer reconciles count and sum."""
    lines = three_lines()
    ids = enqueue_run(engine, lines, run_id=1)
    with SapPeer() as peer:
        deliver_all(sap_worker(engine, url=peer.url))
        check = peer.reconcile(1)
        answer = httpx.get(f"{peer.url}/sap/runs/1").json()
        assert sum(peer.effects.values()) == len(ids)
    assert check["balanced"] and answer == check
    assert check["received"] == {"line_count": 3, "sum_cents": 32025}
    assert all(message(engine, i).status == MessageStatus.DELIVERED for i in ids)


def test_rerun_and_replay_add_no_second_effect(engine):
    """interfaces.md §2.2, fees.md §11.2: a re-run adds nothing (same keys) and a replay of
    delivered messages is deduplicated by the SAP peer."""
    from ekita.hub.delivery.ops import replay

    ids = enqueue_run(engine, three_lines())
    again = enqueue_run(engine, three_lines())
    assert again == ids
    with SapPeer() as peer:
        worker = sap_worker(engine, url=peer.url)
        deliver_all(worker)
        with work(engine, OPS) as s:
            replay(s, OPS, ids=ids)
            s.commit()
        deliver_all(worker)
        assert set(peer.effects.values()) == {1}
        assert peer.reconcile(1)["balanced"]


def test_peer_reports_an_unbalanced_run(engine):
    """fees.md §11.2: line count and sum reconciled with SAP; a missing line shows."""
    lines = three_lines()
    enqueue_run(engine, lines[:2], run_id=1)  # the trailer says 2 lines …
    with SapPeer() as peer:
        deliver_all(sap_worker(engine, url=peer.url))
        # … a third line of the same run arrives later, outside the trailer's count
        deliver_all_extra = enqueue_run(engine, [lines[2] | {"amount_cents": 100}], run_id=1)
        assert deliver_all_extra
        deliver_all(sap_worker(engine, url=peer.url))
        assert not peer.reconcile(1)["balanced"]


def test_peer_answers_422_for_an_invalid_document_and_400_for_a_bad_envelope():
    """Issue 7 item 5: the peer validates against the XSDs and answers with the error."""
    with SapPeer() as peer:
        bad = httpx.post(f"{peer.url}/sap/fidcc2", headers={"Idempotency-Key": "k1"},
                         json={"message_type": "FIDCC2", "document": "<FIDCCP02/>"})
        assert bad.status_code == 422 and "VERSION" in bad.json()["error"]
        doctype = httpx.post(f"{peer.url}/sap/fidcc2", headers={"Idempotency-Key": "k2"},
                             json={"message_type": "FIDCC2",
                                   "document": '<!DOCTYPE x [<!ENTITY e "e">]><FIDCCP02/>'})
        assert doctype.status_code == 422 and "DOCTYPE" in doctype.json()["error"]
        envelope = httpx.post(f"{peer.url}/sap/x", headers={"Idempotency-Key": "k3"},
                              json={"message_type": "PAYROLL", "document": "x"})
        assert envelope.status_code == 400
        assert not peer.effects


def test_a_500_then_success_is_one_effect(engine):
    """interfaces.md §2.2-2.3 (issue 4 reliability a, for SAP-FI): retried, one effect."""
    (mid, _trailer) = enqueue_run(engine, [line()])
    key = message(engine, mid).idempotency_key
    with SandboxPeer() as peer:
        peer.fail(2, status=500, keys=[key], paths=["/sap/*"])
        deliver_all(sap_worker(engine, url=peer.url))
        assert peer.effects[key] == 1 and peer.attempts(key) == 3
        body = peer.effect_log[0].body
    assert body["message_type"] == "FIDCC2" and "<FIDCCP02" in body["document"]
    assert message(engine, mid).status == MessageStatus.DELIVERED


def test_a_4xx_goes_to_the_dead_letters_at_once(engine):
    """interfaces.md §2.3: a rejected document is not retried; it is a dead letter."""
    (mid, _trailer) = enqueue_run(engine, [line()])
    key = message(engine, mid).idempotency_key
    with SandboxPeer() as peer:
        peer.fail(1, status=422, keys=[key], paths=["/sap/fidcc2"])
        deliver_all(sap_worker(engine, url=peer.url))
        assert peer.attempts(message(engine, mid).idempotency_key) == 1
    dead = message(engine, mid)
    assert dead.status == MessageStatus.DEAD and "HTTP 422" in dead.last_error


def test_timeout_after_receipt_checks_the_peer_and_does_not_resend(engine):
    """interfaces.md §2.2: after a timeout query the peer before resending; same key, one
    effect (the SAP peer took the document, the adapter asks, finds it and stops)."""
    (mid, _trailer) = enqueue_run(engine, [line()])
    retry = FAST.model_copy(update={"timeout_s": 0.3})
    key = message(engine, mid).idempotency_key
    with SapPeer() as peer:
        peer.time_out_after_receiving(1, delay=1.0, keys=[key])
        deliver_all(sap_worker(engine, retry=retry, url=peer.url))
        assert peer.effects[key] == 1
        assert peer.attempts(key) == 1  # the second attempt was a GET, not a resend
        queries = [r for r in peer.received if r.key == key and r.method == "GET"]
    assert len(queries) == 1
    assert message(engine, mid).status == MessageStatus.DELIVERED


def test_drop_directory_writes_atomically_once_per_key(engine, tmp_path):
    """Brief (issue 7 item 3): drop directory, file name from the idempotency key, an existing
    file means delivered (check before resending); no temporary file is left behind."""
    from ekita.hub.delivery.ops import replay

    ids = enqueue_run(engine, three_lines())
    drop = tmp_path / "sap-in"
    worker = sap_worker(engine, transport="dropdir", drop_dir=str(drop))
    deliver_all(worker)
    files = sorted(drop.iterdir())
    assert len(files) == len(ids) and all(f.suffix == ".xml" for f in files)
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    with work(engine, OPS) as s:
        replay(s, OPS, ids=ids)
        s.commit()
    deliver_all(worker)
    assert {f.name: f.stat().st_mtime_ns for f in drop.iterdir()} == stamps


def test_csv_profile_travels_to_the_peer(engine):
    """Issue 7 item 3: the flat CSV variant, chosen by configuration."""
    (mid, trailer) = enqueue_run(engine, [line()])
    with SapPeer() as peer:
        deliver_all(sap_worker(engine, url=peer.url, format="csv",
                               csv={"delimiter": ",", "decimal_comma": False}))
        documents = peer.state.documents
        first = documents[message(engine, mid).idempotency_key]
        last = documents[message(engine, trailer).idempotency_key]
    assert first.splitlines()[1].endswith(",213.50,2027-03-15")
    assert last.splitlines()[-1] == "TRAILER,1,2027-03,1,213.50"


def test_unknown_operation_is_a_dead_letter(engine):
    """interfaces.md §2.3: what the adapter cannot deliver is dead at once, with a reason."""
    from ekita.core.outbox import enqueue

    enqueue_run(engine, [])
    with work(engine) as s:
        mid = enqueue(s, adapter="sap_fi", operation="payroll", business_key="x",
                      payload={"x": 1}).id
        s.commit()
    with SapPeer() as peer:
        deliver_all(sap_worker(engine, url=peer.url))
    dead = message(engine, mid)
    assert dead.status == MessageStatus.DEAD and "payroll" in dead.last_error


def test_peer_keeps_documents_by_key_and_serves_the_arrears_file():
    """Issue 7 item 5: the peer keeps what it received by key and produces an arrears file:
    open items per PKN whose due date passed, less payments (oldest first)."""
    from datetime import date

    from ekita.plugins.sap_fi.arrears import parse_arrears
    from ekita.plugins.sap_fi.idoc import render_receivables

    with SapPeer() as peer:
        for i, period in enumerate(["2027-01", "2027-02", "2027-03", "2027-04"]):
            for pkn in ("10000101", "10000201"):
                doc = render_receivables([line(pkn=pkn, period=period, run_id=i + 1)], None)
                answer = httpx.post(f"{peer.url}/sap/fidcc2",
                                    headers={"Idempotency-Key": f"{pkn}:{period}"},
                                    json={"message_type": "FIDCC2", "document": doc.decode()})
                assert answer.status_code == 200
        peer.pay("10000201", 21350 * 2)
        served = httpx.get(f"{peer.url}/sap/arrears/2027-04-01").json()
        assert json.loads(json.dumps(served))["filename"] == "arrears-2027-04-01.xml"
        parsed = parse_arrears(served["document"].encode())
        assert peer.state.documents.keys() >= {"10000101:2027-01"}
    by_pkn = {r.pkn: r for r in parsed.records}
    assert parsed.as_of == date(2027, 4, 1)
    assert by_pkn["10000101"].months_overdue == 3
    assert by_pkn["10000101"].amount_overdue_cents == 3 * 21350
    assert by_pkn["10000101"].oldest_due_date == date(2027, 1, 15)
    assert by_pkn["10000201"].months_overdue == 1
    assert by_pkn["10000201"].oldest_due_date == date(2027, 3, 15)


def test_peer_runs_standalone_from_the_command_line(tmp_path):
    """Issue 7 item 5: `ekita-hub peer sap` runs the sandbox SAP peer as its own process
    (URL on the first line), validates and acknowledges documents, stops on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from ekita.plugins.sap_fi.idoc import render_receivables

    exe = Path(sys.executable).with_name("ekita-hub")
    env = {**os.environ, "EKITA_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    proc = subprocess.Popen([str(exe), "peer", "sap"], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        doc = render_receivables([line()], None).decode()
        answer = httpx.post(f"{url}/sap/fidcc2", headers={"Idempotency-Key": "cli-1"},
                            json={"message_type": "FIDCC2", "document": doc}, timeout=5)
        assert answer.status_code == 200
        assert httpx.get(f"{url}/messages/cli-1", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_the_fee_debit_run_reaches_sap_end_to_end(engine):
    """Lastenheft 3.10.9, fees.md §11.1–2, interfaces.md §5 F1/F2: the real debit run of the
    fee domain writes receivables, debtors and the trailer; the worker delivers them to the
    sandbox SAP peer, which books every line once, reconciles the trailer and holds a valid
    debtor document per PKN with the IBAN decrypted only there."""
    from datetime import date

    from ekita.core.models.enums import CareType
    from ekita.core.schemas.fees import PaymentSetupIn
    from ekita.core.services.fees import cases
    from ekita.core.services.fees.debit_run import run_debit
    from tests.test_fees_world import build, family

    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2008, 5, 1), CareType.KINDERGARTEN, "9"),
                                    (date(2011, 2, 1), CareType.KRIPPE, "6")])
        cases.set_payment(s, PaymentSetupIn(guardian_id=fam.guardian,
                                            payment_method="DIRECT_DEBIT",
                                            iban="DE89 3704 0044 0532 0130 00",
                                            mandate_reference="M-1", holder="Elter Beitrag"))
        result = run_debit(s, "2012-09")
    with SapPeer() as peer:
        deliver_all(sap_worker(engine, url=peer.url))
        check = peer.reconcile(result.run_id)
        lines = peer.state.lines
        debtors = dict(peer.state.debtors)
        documents = dict(peer.state.documents)
    assert check is not None and check["balanced"], check
    assert check["received"] == {"line_count": result.record_count,
                                 "sum_cents": result.control_sum_cents}
    assert len(lines) == result.record_count and len(debtors) == 2
    assert all("<IBAN>DE89370400440532013000</IBAN>" in documents[k] for k in debtors.values())
