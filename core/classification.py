"""Which fields hold bank or health data (data-protection M9, R6-R8; issue 12 item 3).

The single place that ties sensitivity classes (``Tracked.__sensitive__``, revealed per
role by ``ekita.core.access.REVEAL``) to the at-rest categories that must be encrypted.
A model marks a field by putting it in ``__sensitive__`` with one of these classes; a test
checks that each such column is ``ekita.core.db.types.EncryptedText`` (or, for the payment
setup's ``iban_encrypted``, holds the ciphertext its service writes).
"""

from __future__ import annotations

from dataclasses import dataclass

from ekita.core.db.base import Base, Tracked

#: sensitivity class -> at-rest category
AT_REST: dict[str, str] = {
    "bank": "bank",  # payment setups of the carrier's own contracts (R7)
    "childminder_bank": "bank",  # childminders' accounts: fee office and admin only
    "health": "health",  # illnesses and the like, the facility only (R6)
}


@dataclass(frozen=True)
class ClassifiedField:
    table: str
    field: str
    sensitivity: str
    category: str  # "bank" | "health"


def classified_fields() -> list[ClassifiedField]:
    """Every mapped field whose sensitivity class must be encrypted at rest."""
    found = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if not issubclass(cls, Tracked):
            continue
        for field, sensitivity in cls.__sensitive__.items():
            if sensitivity in AT_REST:
                found.append(ClassifiedField(cls.__tablename__, field, sensitivity,
                                             AT_REST[sensitivity]))
    return sorted(found, key=lambda f: (f.table, f.field))
