"""Who may read which rows and fields of every tracked entity (issue 12 item 1;
data-protection.md §3 and the access matrix of §7).

One table, ``POLICY``, names for every ``Tracked`` entity the permission its own route
needs, and per role a row rule: ``ALL`` rows, ``NONE``, or a tenant criterion built from
the principal. A role that is not listed gets no rows; an entity that is not listed is
readable by administrators only (default deny). ``ekita.core.scoping`` applies the row
rules to every ORM ``SELECT``, so entity routes, lists, history, audit, reports, exports
and plugin routes inherit them; ``view`` applies the field mask of the entity route to
history values and audit changes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal, redact
from ekita.core.db.base import Base, Tracked
from ekita.core.models import (
    ApiKey,
    ArrearsCase,
    CareContract,
    CareOffer,
    Carrier,
    Child,
    ChildGuardian,
    Childminder,
    ChildmindingOffice,
    ContractTerm,
    Facility,
    Family,
    Guardian,
    GuardianContact,
    Pkn,
)
from ekita.core.models.documents import DocumentTemplate, FamilyFile
from ekita.core.models.enums import CarrierCategory, ContactVisibility, Role
from ekita.core.models.fees import (
    ExtraCare,
    FacilityFeeOption,
    FeeFact,
    FeeStatute,
    PaymentSetup,
    SiblingLink,
)
from ekita.core.models.placement import (
    Application,
    ApplicationChild,
    ApplicationState,
    ContractExit,
    Preference,
    Reservation,
    ReservationStatus,
    WaitingListEntry,
    WaitingStatus,
)


class Rows(enum.Enum):
    ALL = "all"
    NONE = "none"


ALL, NONE = Rows.ALL, Rows.NONE
TENANTS = frozenset({Role.FACILITY_LEAD, Role.CARRIER})

CONTACT_VISIBILITY: dict[Role, frozenset[ContactVisibility]] = {
    Role.ADMIN: frozenset(ContactVisibility),
    Role.ZVS: frozenset({ContactVisibility.ADMINISTRATIVE}),
    Role.FINANCE: frozenset({ContactVisibility.ADMINISTRATIVE}),
    Role.CARRIER: frozenset({ContactVisibility.ADMINISTRATIVE}),
    Role.FACILITY_LEAD: frozenset(ContactVisibility),
}


class Scope:
    """The row sets a principal's criteria are built from (computed once per statement)."""

    def __init__(self, principal: Principal) -> None:
        self.p = principal

    @cached_property
    def facilities(self) -> Any:
        """The facilities a tenant acts for: a list for a head, a subquery for a carrier."""
        if self.p.role == Role.FACILITY_LEAD:
            return [self.p.facility_id]
        return select(Facility.id).where(Facility.carrier_id == self.p.carrier_id)

    @cached_property
    def contracts(self) -> ColumnElement[bool]:
        return CareContract.facility_id.in_(self.facilities)

    @cached_property
    def applications(self) -> ColumnElement[bool]:
        """A head (a carrier) sees an application only while it is under review, waiting,
        reserved or placed at her (its) facility (data-protection §7, R4)."""
        facilities = self.facilities
        waiting = select(WaitingListEntry.application_id).where(
            WaitingListEntry.facility_id.in_(facilities),
            WaitingListEntry.status.in_([WaitingStatus.WAITING, WaitingStatus.OFFERED]))
        reserved = select(Reservation.application_id).where(
            Reservation.facility_id.in_(facilities),
            Reservation.status == ReservationStatus.ACTIVE)
        return (
            ((Application.state == ApplicationState.AT_FACILITY)
             & Application.current_facility_id.in_(facilities))
            | Application.id.in_(waiting)
            | Application.id.in_(reserved)
            | Application.placed_facility_id.in_(facilities)
        )

    @cached_property
    def child_ids(self) -> Select[Any]:
        """Children of own contracts and of applications at own facilities: the head
        reviews them, contacts the guardians and signs the contract (3.6.5–3.6.7)."""
        return select(CareContract.child_id).where(self.contracts).union(
            select(ApplicationChild.child_id).join(
                Application, Application.id == ApplicationChild.application_id
            ).where(self.applications))

    @cached_property
    def guardian_ids(self) -> Select[Any]:
        return select(ChildGuardian.guardian_id).where(ChildGuardian.child_id.in_(self.child_ids))

    @cached_property
    def contact_visibility(self) -> ColumnElement[bool]:
        allowed = CONTACT_VISIBILITY.get(self.p.role, frozenset())
        return GuardianContact.visibility.in_([v.value for v in allowed])


Criterion = Callable[[Scope], ColumnElement[bool]]
Rule = Rows | Criterion


def _municipal_payers(_s: Scope) -> ColumnElement[bool]:
    """The fee office keeps the bank data of payers of municipal or childminding contracts
    (data-protection §7 "Bank data: fee office R/W (municipal)"), and of payers not yet on
    any contract (the setup is entered before the contract is signed)."""
    municipal = select(Facility.id).join(Carrier, Carrier.id == Facility.carrier_id).where(
        Carrier.category == CarrierCategory.MUNICIPAL)
    city = select(CareContract.payer_guardian_id).where(
        or_(CareContract.facility_id.is_(None), CareContract.facility_id.in_(municipal)))
    any_payer = select(CareContract.payer_guardian_id)
    return or_(PaymentSetup.guardian_id.in_(city), PaymentSetup.guardian_id.not_in(any_payer))


def _tenant_payers(s: Scope) -> ColumnElement[bool]:
    """A carrier keeps the bank data of the payers of its own contracts (R7)."""
    return PaymentSetup.guardian_id.in_(
        select(CareContract.payer_guardian_id).where(s.contracts))


@dataclass(frozen=True)
class EntityPolicy:
    """The read rules of one tracked entity.

    ``read``: the permission the entity's own route needs (history requires it too).
    ``rows``: per role, which rows (admin always sees all; unlisted roles see none).
    ``tenant_fields``: if set, the only fields facility leads and carriers get (their
    view of the entity route), on top of the ``__sensitive__`` masks.
    """

    read: Permission
    rows: Mapping[Role, Rule]
    tenant_fields: frozenset[str] | None = None


MASTER = {r: ALL for r in Role}  # master data is public within the hub (3.15.2)
EB_KITA = {Role.ZVS: ALL, Role.FINANCE: ALL}


def _tenant(rule: Rule) -> dict[Role, Rule]:
    return {Role.FACILITY_LEAD: rule, Role.CARRIER: rule}


def _people(rule: Rule) -> dict[Role, Rule]:
    return {**EB_KITA, **_tenant(rule)}


# What a head (a carrier) sees of an application: the fields of the placement route's
# FacilityApplicationOut (no rank, priority, switch reason, consents or remarks; R4, R5).
TENANT_APPLICATION_FIELDS = frozenset({
    "id", "family_id", "state", "desired_start", "daily_hours",
    "sibling_in_first_preference", "integration_need", "is_switch", "unborn", "confession",
    "notification_channel", "current_facility_id", "review_due_on", "placed_facility_id",
    "placed_start"})
# Routing state a tenant gets only while it points at one of its own facilities: where an
# application went next hints at the order of the preferences (R4).
ROUTING_FIELDS = ("current_facility_id", "review_due_on")

POLICY: dict[type[Tracked], EntityPolicy] = {
    # master data
    Carrier: EntityPolicy(Permission.MASTERDATA_READ, MASTER),
    Facility: EntityPolicy(Permission.MASTERDATA_READ, MASTER),
    CareOffer: EntityPolicy(Permission.MASTERDATA_READ, MASTER),
    ChildmindingOffice: EntityPolicy(Permission.MASTERDATA_READ, MASTER),
    # a childminder is a natural person: no personal data for ops and machine accounts (M8)
    Childminder: EntityPolicy(Permission.MASTERDATA_READ,
                              {**EB_KITA, **_tenant(ALL)}),
    # accounts: administrators only
    ApiKey: EntityPolicy(Permission.USERS_MANAGE, {}),
    # people (R1, R2, R6, R7)
    Family: EntityPolicy(Permission.PEOPLE_READ, _people(
        lambda s: Family.id.in_(select(Child.family_id).where(Child.id.in_(s.child_ids))))),
    Child: EntityPolicy(Permission.PEOPLE_READ, _people(lambda s: Child.id.in_(s.child_ids))),
    Pkn: EntityPolicy(Permission.PEOPLE_READ, _people(lambda s: Pkn.child_id.in_(s.child_ids))),
    Guardian: EntityPolicy(Permission.PEOPLE_READ, _people(
        lambda s: Guardian.id.in_(s.guardian_ids))),
    GuardianContact: EntityPolicy(Permission.PEOPLE_READ, {
        Role.ZVS: lambda s: s.contact_visibility,
        Role.FINANCE: lambda s: s.contact_visibility,
        **_tenant(lambda s: s.contact_visibility
                  & GuardianContact.guardian_id.in_(s.guardian_ids))}),
    ChildGuardian: EntityPolicy(Permission.PEOPLE_READ, _people(
        lambda s: ChildGuardian.child_id.in_(s.child_ids))),
    CareContract: EntityPolicy(Permission.PEOPLE_READ, _people(lambda s: s.contracts)),
    ContractTerm: EntityPolicy(Permission.PEOPLE_READ, _people(
        lambda s: ContractTerm.contract_id.in_(select(CareContract.id).where(s.contracts)))),
    # placement (R4: a tenant never sees a preference, i.e. its rank)
    Application: EntityPolicy(Permission.PLACEMENT_READ, _people(lambda s: s.applications),
                              tenant_fields=TENANT_APPLICATION_FIELDS),
    ApplicationChild: EntityPolicy(Permission.PLACEMENT_READ, _people(
        lambda s: ApplicationChild.application_id.in_(
            select(Application.id).where(s.applications)))),
    Preference: EntityPolicy(Permission.PLACEMENT_READ, {**EB_KITA, **_tenant(NONE)}),
    WaitingListEntry: EntityPolicy(Permission.PLACEMENT_READ, _people(
        lambda s: WaitingListEntry.facility_id.in_(s.facilities))),
    Reservation: EntityPolicy(Permission.PLACEMENT_READ, _people(
        lambda s: Reservation.facility_id.in_(s.facilities))),
    ContractExit: EntityPolicy(Permission.PLACEMENT_READ, _people(
        lambda s: ContractExit.contract_id.in_(select(CareContract.id).where(s.contracts)))),
    # fees (M8: placement roles never read income or fee data; their own facilities'
    # fee options and their own contracts' extra care are read while they sign contracts)
    FeeStatute: EntityPolicy(Permission.FEES_READ, EB_KITA),
    FeeFact: EntityPolicy(Permission.FEES_READ, EB_KITA),
    SiblingLink: EntityPolicy(Permission.FEES_READ, EB_KITA),
    FacilityFeeOption: EntityPolicy(Permission.FEES_READ, _people(
        lambda s: FacilityFeeOption.facility_id.in_(s.facilities))),
    ExtraCare: EntityPolicy(Permission.FEES_READ, _people(
        lambda s: ExtraCare.contract_id.in_(select(CareContract.id).where(s.contracts)))),
    # bank data: fee office for municipal contracts, a carrier for its own (§7, R7, R8)
    PaymentSetup: EntityPolicy(Permission.FEES_READ, {
        Role.FINANCE: _municipal_payers, Role.CARRIER: _tenant_payers}),
    # termination status only inside EB Kita (R11)
    ArrearsCase: EntityPolicy(Permission.FEES_READ, EB_KITA),
    # e-file only for EB Kita (R10); templates are filled by EB Kita's letters
    FamilyFile: EntityPolicy(Permission.DOCUMENTS_READ, EB_KITA),
    DocumentTemplate: EntityPolicy(Permission.TEMPLATES_MANAGE, EB_KITA),
}

ADMIN_ONLY = EntityPolicy(Permission.USERS_MANAGE, {})


@cache
def tracked_entities() -> dict[str, type[Tracked]]:
    """Every tracked entity by table name (the names the history and audit routes use);
    computed once, after ``ekita.core.models`` has registered every model."""
    return {m.class_.__tablename__: m.class_ for m in Base.registry.mappers
            if issubclass(m.class_, Tracked)}


def policy_for(cls: type) -> EntityPolicy:
    """The entity's policy; an entity without one is for administrators only."""
    return POLICY.get(cls, ADMIN_ONLY)  # type: ignore[arg-type]


def rule_for(cls: type, role: Role) -> Rule:
    if role == Role.ADMIN:
        return ALL  # administrators and system principals (CLI, jobs) see everything
    return policy_for(cls).rows.get(role, NONE)


def criterion(cls: type, scope: Scope) -> ColumnElement[bool]:
    """The row rule of the principal on the entity as a SQL condition."""
    rule = rule_for(cls, scope.p.role)
    if rule is ALL:
        return true()
    if rule is NONE:
        return false()
    return rule(scope)


def may_read(principal: Principal, cls: type) -> bool:
    """The entity's own read permission, and at least some rows."""
    return (principal.can(policy_for(cls).read)
            and rule_for(cls, principal.role) is not NONE)


def own_facilities(session: Session, principal: Principal) -> set[int]:
    """The facilities a tenant acts for (master data is readable by everyone)."""
    if principal.role == Role.FACILITY_LEAD:
        return {principal.facility_id} if principal.facility_id else set()
    if principal.role == Role.CARRIER:
        return set(session.scalars(
            select(Facility.id).where(Facility.carrier_id == principal.carrier_id)))
    return set()


def view(session: Session, principal: Principal, cls: type[Tracked],
         values: dict[str, Any]) -> dict[str, Any]:
    """The values as the entity route shows them to the principal: tenant field list,
    routing state only at own facilities, sensitive classes masked or omitted."""
    pol = policy_for(cls)
    if principal.role in TENANTS:
        if pol.tenant_fields is not None:
            values = {k: v for k, v in values.items() if k in pol.tenant_fields}
        if cls is Application and values.get("current_facility_id") is not None \
                and values["current_facility_id"] not in own_facilities(session, principal):
            values = {**values, **{k: None for k in ROUTING_FIELDS if k in values}}
    return redact(values, cls.__sensitive__, principal.role)


def audit_scope(principal: Principal, entity_col: Any, id_col: Any) -> ColumnElement[bool]:
    """Condition on audit rows: only entities the principal may read, rows in its scope."""
    if principal.role == Role.ADMIN:
        return true()
    scope = Scope(principal)
    parts = []
    for name, cls in tracked_entities().items():
        if not may_read(principal, cls):
            continue
        rule = rule_for(cls, principal.role)
        if rule is ALL:
            parts.append(entity_col == name)
        else:
            ids = select(cls.id).where(criterion(cls, scope))  # type: ignore[attr-defined]
            parts.append(and_(entity_col == name, id_col.in_(ids)))
    return or_(false(), *parts)
