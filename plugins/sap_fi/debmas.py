"""Debtor master data as DEBMAS07-style XML (interfaces.md §5 F1, DebtorRecord).

The paying guardian becomes SAP customer ``KUNNR`` = PKN, with address, payment method
and the SEPA mandate. The IBAN travels encrypted in the outbox payload
(``mandate.iban_encrypted``, data-protection M9); it is decrypted here, at the moment of
delivery, validated with schwifty (ISO 13616 check digits and national format) and
written into the document that goes to SAP, never into a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from lxml import etree
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from ekita.core.errors import RuleViolation
from ekita.plugins.sap_fi.idoc import PACKAGE, sap_date
from ekita.plugins.sap_fi.settings import SapFiSettings
from ekita.plugins.sap_fi.xmltools import parse_checked, schema

XSD = "debmas07.xsd"


def debtor_schema() -> etree.XMLSchema:
    return schema(PACKAGE, XSD)


def checked_iban(text: str) -> IBAN:
    """The IBAN if schwifty accepts it; a ``RuleViolation`` naming the field otherwise."""
    try:
        return IBAN(text)
    except SchwiftyException:
        raise RuleViolation("the IBAN is not valid (check digits or national format)",
                            record="debtor", field="iban",
                            rule="interfaces.md §5: store IBAN/BIC and validate (MOD 97)"
                            ) from None


def decrypt_iban(token: str) -> IBAN:
    """Decrypt the payload's ``iban_encrypted`` with the hub's data key, then validate it."""
    from ekita.core.crypto import decrypt  # configured by the hub at start-up

    return checked_iban(decrypt(token))


def _clear(mandate: dict, key: str) -> str | None:
    """A mandate's bank field: ``<key>_encrypted`` (ciphertext, as queued since issue 12),
    else the clear ``<key>`` of messages queued before."""
    from ekita.core.crypto import decrypt

    token = mandate.get(f"{key}_encrypted")
    return decrypt(token) if token else mandate.get(key)


def _sub(parent: etree._Element, tag: str, text: object) -> None:
    etree.SubElement(parent, tag).text = str(text)


def render_debtor(payload: Mapping[str, Any], settings: SapFiSettings,
                  created: date | None = None) -> bytes:
    """The DEBMAS07-style document for one DebtorRecord payload, validated."""
    created = created or date.today()
    guardian = payload["guardian"]
    pkn = str(payload.get("pkn") or payload.get("pkn_family"))
    root = etree.Element("DEBMAS07", VERSION="1")
    idoc = etree.SubElement(root, "IDOC", BEGIN="1")
    dc = etree.SubElement(idoc, "EDI_DC40", SEGMENT="1")
    for tag, text in (("TABNAM", "EDI_DC40"), ("DOCNUM", f"D{pkn}"), ("IDOCTYP", "DEBMAS07"),
                      ("MESTYP", "DEBMAS"), ("SNDPRT", "LS"), ("SNDPRN", settings.sender),
                      ("RCVPRT", "LS"), ("RCVPRN", settings.receiver),
                      ("CREDAT", sap_date(created))):
        _sub(dc, tag, text)
    kna = etree.SubElement(idoc, "E1KNA1M", SEGMENT="1")
    _sub(kna, "MSGFN", "005")
    _sub(kna, "KUNNR", pkn)
    _sub(kna, "NAME1", guardian["family_name"])
    _sub(kna, "NAME2", guardian["first_name"])
    if guardian.get("birth_date"):
        _sub(kna, "GBDAT", sap_date(guardian["birth_date"]))
    street = " ".join(str(p) for p in (guardian.get("street"), guardian.get("house_no")) if p)
    _sub(kna, "STRAS", street)
    _sub(kna, "PSTLZ", guardian.get("postcode") or "")
    _sub(kna, "ORT01", guardian.get("town") or "")
    _sub(kna, "LAND1", "DE")
    mandate = payload.get("mandate") or {}
    if mandate.get("iban_encrypted"):
        iban = decrypt_iban(mandate["iban_encrypted"])
        bank = etree.SubElement(kna, "E1KNBKM", SEGMENT="1")
        _sub(bank, "BANKS", iban.country_code)
        _sub(bank, "IBAN", iban.compact)
        bic = _clear(mandate, "bic") or (str(iban.bic) if iban.bic else None)
        if bic:
            _sub(bank, "SWIFT", bic)
        _sub(bank, "KOINH", _clear(mandate, "holder") or
             f"{guardian['first_name']} {guardian['family_name']}")
    mnd = etree.SubElement(kna, "Z1EKMND", SEGMENT="1")
    _sub(mnd, "ZLSCH", payload.get("payment_method", "SELF_PAYER"))
    if mandate.get("reference"):
        _sub(mnd, "MNDID", mandate["reference"])
    if mandate.get("signed_on"):
        _sub(mnd, "SGNDAT", sap_date(mandate["signed_on"]))
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    parse_checked(content, debtor_schema(), record="debtor")
    return content
