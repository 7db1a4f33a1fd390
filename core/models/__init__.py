"""The ORM model, one module per part of the domain."""

from ekita.core.models.accounts import ApiKey
from ekita.core.models.arrears import ArrearsCase, ArrearsStatus
from ekita.core.models.audit import AuditEvent
from ekita.core.models.carrier_exchange import CarrierImportReport
from ekita.core.models.carriers import Carrier
from ekita.core.models.childminding import Childminder, ChildmindingOffice
from ekita.core.models.contracts import CareContract, ContractTerm
from ekita.core.models.districts import Stadtteil
from ekita.core.models.documents import (
    DocumentContent,
    DocumentDmsRef,
    DocumentTemplate,
    FamilyFile,
    FiledDocument,
)
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
from ekita.core.models.fees import (
    DebitRun,
    ExtraCare,
    FacilityFeeOption,
    FeeFact,
    FeeStatute,
    PaymentSetup,
    ReceivableLine,
    SiblingLink,
)
from ekita.core.models.people import Child, ChildGuardian, Family, Guardian, GuardianContact, Pkn
from ekita.core.models.placement import (
    Application,
    ApplicationChild,
    ContractExit,
    Preference,
    Reservation,
    WaitingListEntry,
)
from ekita.core.models.registries import AddressDistrict, AddressReview, RegistryCheck

__all__ = [
    "AddressDistrict",
    "AddressReview",
    "ApiKey",
    "Application",
    "ApplicationChild",
    "ArrearsCase",
    "ArrearsStatus",
    "AuditEvent",
    "CareContract",
    "CareOffer",
    "Carrier",
    "CarrierImportReport",
    "Child",
    "ChildGuardian",
    "Childminder",
    "ChildmindingOffice",
    "ContractExit",
    "ContractTerm",
    "Cursor",
    "DebitRun",
    "DeliveryAttempt",
    "DocumentContent",
    "DocumentDmsRef",
    "DocumentTemplate",
    "DomainEvent",
    "ExtraCare",
    "Facility",
    "FacilityFeeOption",
    "Family",
    "FamilyFile",
    "FeeFact",
    "FeeStatute",
    "FiledDocument",
    "Guardian",
    "GuardianContact",
    "InboxEntry",
    "JobRun",
    "Lease",
    "OutboxMessage",
    "PaymentSetup",
    "Pkn",
    "Preference",
    "ReceivableLine",
    "RegistryCheck",
    "Reservation",
    "SiblingLink",
    "Stadtteil",
    "TransferRecord",
    "WaitingListEntry",
]
