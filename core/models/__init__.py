"""The ORM model, one module per part of the domain."""

from ekita.core.models.accounts import ApiKey
from ekita.core.models.audit import AuditEvent
from ekita.core.models.carriers import Carrier
from ekita.core.models.childminding import Childminder, ChildmindingOffice
from ekita.core.models.contracts import CareContract
from ekita.core.models.districts import Stadtteil
from ekita.core.models.events import DomainEvent
from ekita.core.models.exchange import (
    Cursor,
    DeliveryAttempt,
    InboxEntry,
    JobRun,
    Lease,
    OutboxMessage,
    TransferRecord,
)
from ekita.core.models.facilities import CareOffer, Facility
from ekita.core.models.people import Child, ChildGuardian, Family, Guardian, GuardianContact, Pkn
from ekita.core.models.placement import (
    Application,
    ApplicationChild,
    ContractExit,
    Preference,
    Reservation,
    WaitingListEntry,
)

__all__ = [
    "ApiKey",
    "Application",
    "ApplicationChild",
    "AuditEvent",
    "CareContract",
    "CareOffer",
    "Carrier",
    "Child",
    "ChildGuardian",
    "Childminder",
    "ChildmindingOffice",
    "ContractExit",
    "Cursor",
    "DeliveryAttempt",
    "DomainEvent",
    "Facility",
    "Family",
    "Guardian",
    "GuardianContact",
    "InboxEntry",
    "JobRun",
    "Lease",
    "OutboxMessage",
    "Pkn",
    "Preference",
    "Reservation",
    "Stadtteil",
    "TransferRecord",
    "WaitingListEntry",
]
