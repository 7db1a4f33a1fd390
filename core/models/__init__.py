"""The ORM model, one module per part of the domain."""

from ekita.core.models.accounts import ApiKey
from ekita.core.models.audit import AuditEvent
from ekita.core.models.carriers import Carrier
from ekita.core.models.childminding import Childminder, ChildmindingOffice
from ekita.core.models.contracts import CareContract
from ekita.core.models.districts import Stadtteil
from ekita.core.models.facilities import CareOffer, Facility
from ekita.core.models.people import Child, ChildGuardian, Family, Guardian, GuardianContact, Pkn

__all__ = [
    "ApiKey",
    "AuditEvent",
    "CareContract",
    "CareOffer",
    "Carrier",
    "Child",
    "ChildGuardian",
    "Childminder",
    "ChildmindingOffice",
    "Facility",
    "Family",
    "Guardian",
    "GuardianContact",
    "Pkn",
    "Stadtteil",
]
