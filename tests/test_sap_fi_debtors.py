"""SAP-FI debtors (interfaces.md §5 F1 DebtorRecord; data-protection M4, M9; issue 7 item 3):
DEBMAS-style XML, the IBAN encrypted in the outbox and decrypted and validated only at
delivery."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from ekita.core import crypto
from ekita.core.errors import RuleViolation
from ekita.core.models.exchange import MessageStatus
from ekita.core.outbox import enqueue
from ekita.hub.plugins import load_plugins
from ekita.plugins.sap_fi.debmas import checked_iban, render_debtor
from ekita.plugins.sap_fi.peer import SapPeer
from ekita.plugins.sap_fi.settings import SapFiSettings
from tests.conftest import work
from tests.test_sap_fi import deliver_all, message, sap_settings, sap_worker

VALID_IBAN = "DE89 3704 0044 0532 0130 00"  # the well-known test IBAN (MOD 97 valid)


@pytest.fixture(autouse=True)
def data_key():
    crypto.configure(crypto.generate_key())
    yield
    crypto.configure(None)


def debtor(iban: str = VALID_IBAN, method: str = "DIRECT_DEBIT") -> dict:
    return {"pkn": "10000101", "payment_method": method,
            "guardian": {"family_name": "Muster", "first_name": "Erika",
                         "birth_date": "1990-04-01", "street": "Prager Straße", "house_no": "7",
                         "postcode": "01069", "town": "Dresden"},
            "mandate": {"reference": "EBK-10000101-1", "signed_on": "2027-02-01",
                        "iban_encrypted": crypto.encrypt(iban),
                        "bic_encrypted": crypto.encrypt("COBADEFFXXX"),
                        "holder_encrypted": crypto.encrypt("Erika Muster")}}


def test_debtor_document_carries_pkn_address_and_mandate():
    """interfaces.md §5 F1: paying guardian, PKN as account, address, payment method, SEPA
    mandate reference; the IBAN decrypted into the document only."""
    doc = render_debtor(debtor(), SapFiSettings())
    root = etree.fromstring(doc)
    kna = root.find("IDOC/E1KNA1M")
    assert kna.findtext("KUNNR") == "10000101"
    assert kna.findtext("STRAS") == "Prager Straße 7" and kna.findtext("PSTLZ") == "01069"
    assert kna.findtext("E1KNBKM/IBAN") == "DE89370400440532013000"
    assert kna.findtext("Z1EKMND/MNDID") == "EBK-10000101-1"
    assert kna.findtext("Z1EKMND/ZLSCH") == "DIRECT_DEBIT"


def test_self_payer_without_mandate_is_valid():
    """interfaces.md §5: mandate is optional (SELF_PAYER)."""
    payload = debtor(method="SELF_PAYER")
    payload.pop("mandate")
    root = etree.fromstring(render_debtor(payload, SapFiSettings()))
    assert root.find("IDOC/E1KNA1M/E1KNBKM") is None


@pytest.mark.parametrize("bad", ["DE89370400440532013001", "DE8937040044", "XX00123"])
def test_iban_is_validated_with_schwifty(bad):
    """interfaces.md §5 SEPA: store IBAN and validate (MOD 97); also on decrypt at delivery."""
    with pytest.raises(RuleViolation) as caught:
        checked_iban(bad)
    assert caught.value.field == "iban"
    with pytest.raises(RuleViolation):
        render_debtor(debtor(iban=bad), SapFiSettings())


def test_debtor_travels_encrypted_and_arrives_in_clear_at_sap(engine):
    """data-protection M4/M9: the outbox holds only the encrypted IBAN; the peer receives a
    valid DEBMAS document with the IBAN; a bad IBAN is a dead letter, not a retry."""
    load_plugins(sap_settings(engine))
    with work(engine) as s:
        good = enqueue(s, adapter="sap_fi", operation="debtor", business_key="10000101:a1",
                       payload=debtor()).id
        bad = enqueue(s, adapter="sap_fi", operation="debtor", business_key="10000201:b2",
                      payload={**debtor(iban="DE00123456789"), "pkn": "10000201"}).id
        s.commit()
    stored = json.dumps(message(engine, good).payload)
    # issue 12 item 3: BIC and account holder travel encrypted too
    assert "0532013000" not in stored and "iban_encrypted" in stored
    assert "COBADEFFXXX" not in stored and "Erika Muster" not in stored
    with SapPeer() as peer:
        deliver_all(sap_worker(engine, url=peer.url))
        document = peer.state.documents[message(engine, good).idempotency_key]
        assert peer.state.debtors == {"10000101": message(engine, good).idempotency_key}
    assert "<IBAN>DE89370400440532013000</IBAN>" in document
    assert "<SWIFT>COBADEFFXXX</SWIFT>" in document and "<KOINH>Erika Muster</KOINH>" in document
    assert message(engine, good).status == MessageStatus.DELIVERED
    dead = message(engine, bad)
    assert dead.status == MessageStatus.DEAD and "iban" in dead.last_error
    assert "DE00123456789" not in dead.last_error


def test_enqueue_refuses_a_clear_iban_for_an_adapter_that_did_not_declare_it(engine):
    """data-protection M6: sap_fi declares its personal fields; another adapter may not get
    them (the allow-list is per adapter)."""
    from ekita.plugins.sap_fi import PERSONAL_FIELDS

    assert {"iban_encrypted", "pkn", "holder"} <= PERSONAL_FIELDS
    load_plugins(sap_settings(engine))
    with work(engine) as s, pytest.raises(RuleViolation):
        enqueue(s, adapter="sap_co", operation="klr_snapshot", business_key="x",
                payload={"pkn": "10000101"})
