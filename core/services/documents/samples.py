"""Sample field values per document type: previews for administrators, tests, benchmark.

Invented people and places; amounts are Decimals (money is never a float).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ekita.core.models.documents import DocumentType

LETTERHEAD: dict[str, Any] = {
    "recipient_name": "Frau Erika Mustermann", "recipient_street": "Königsbrücker Straße 12",
    "recipient_town": "01099 Dresden", "salutation": "Sehr geehrte Frau Mustermann",
    "pkn": "12345601", "our_ref": "55.2.1", "clerk": "Frau Beispiel", "clerk_room": "3.014",
    "clerk_phone": "0351 488-0000", "clerk_email": "kita-beitrag@example.org",
    "issued_on": date(2027, 1, 4),
}
_CONTRACT: dict[str, Any] = {
    "psb1_salutation": "Frau", "psb1_name": "Erika Mustermann",
    "psb1_address": "Königsbrücker Straße 12, 01099 Dresden", "psb2_salutation": "Herr",
    "psb2_name": "Max Mustermann", "psb2_address": "Königsbrücker Straße 12, 01099 Dresden",
    "child_family_name": "Mustermann", "child_first_name": "Lotta",
    "child_birth_date": date(2019, 5, 17), "child_address": "Königsbrücker Straße 12, "
    "01099 Dresden", "care_start": date(2026, 8, 1), "facility_name": "Hort an der Elbe",
    "facility_address": "Elbstraße 3, 01067 Dresden", "care_hours": Decimal("6"),
}
_FEE: dict[str, Any] = {"period": "01.2027", "child_name": "Lotta Mustermann",
                        "care_hours": Decimal("9"), "cost_centre_name": "Kita Sonnenschein",
                        "amount": Decimal("213.50")}
_SIBLINGS: dict[str, Any] = {
    "period": "01.2027", "amount_total": Decimal("320.25"),
    "children": [{"name": "Lotta Mustermann", "care_hours": Decimal("9"),
                  "cost_centre_name": "Kita Sonnenschein", "amount": Decimal("213.50")},
                 {"name": "Paul Mustermann", "care_hours": Decimal("6"),
                  "cost_centre_name": "Hort an der Elbe", "amount": Decimal("106.75")}],
}
_DEBIT = {"iban": "DE02120300000000202051", "bank": "Beispielbank Dresden"}

SAMPLES: dict[DocumentType, dict[str, Any]] = {
    DocumentType.CARE_CONTRACT_KITA: {**_CONTRACT, "facility_name": "Kita Sonnenschein",
                                      "care_hours": Decimal("9"), "pkn": "12345601"},
    DocumentType.CARE_CONTRACT_HORT: {**_CONTRACT, "pkn": "12345601", "term_until_grade": 4,
                                      "school_name": "45. Grundschule", "hort_kind": "Hort",
                                      "measles_protection": "ja",
                                      "first_admission_saxony": "nein",
                                      "operating_licence_pending": False},
    DocumentType.FEE_NOTICE_SINGLE_DEBIT: {**LETTERHEAD, **_FEE, **_DEBIT},
    DocumentType.FEE_NOTICE_SINGLE_SELF: {**LETTERHEAD, **_FEE},
    DocumentType.FEE_NOTICE_SIBLINGS_DEBIT: {**LETTERHEAD, **_SIBLINGS, **_DEBIT},
    DocumentType.FEE_NOTICE_SIBLINGS_SELF: {**LETTERHEAD, **_SIBLINGS},
    DocumentType.EXIT_CONFIRMATION: {**LETTERHEAD, "child_name": "Lotta Mustermann",
                                     "facility_name": "Kita Sonnenschein",
                                     "exit_date": date(2027, 7, 31), "reason": "Schuleintritt"},
    DocumentType.APPLICATION_RECEIPT: {**LETTERHEAD, "application_no": "A-2027-000123",
                                       "received_on": date(2027, 1, 3),
                                       "child_names": ["Lotta Mustermann"],
                                       "desired_start": date(2027, 8, 1)},
    DocumentType.PLACEMENT_STARTS: {**LETTERHEAD, "child_name": "Lotta Mustermann",
                                    "desired_start": date(2027, 8, 1),
                                    "facilities": ["Kita Sonnenschein", "Kita Regenbogen"]},
    DocumentType.INVITATION: {**LETTERHEAD, "child_name": "Lotta Mustermann",
                              "facility_name": "Kita Sonnenschein",
                              "facility_address": "Hauptstraße 1, 01067 Dresden",
                              "visit_on": date(2027, 2, 10), "visit_time": "10:00"},
}
