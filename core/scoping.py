"""Tenant scoping in the query layer (Lastenheft 3.15.2, 4.2.4; data-protection R1, R2, R7, M8).

Every ORM ``SELECT`` issued by a session carries the principal's row criteria,
added here through ``with_loader_criteria``. Routes and services therefore
cannot forget them: a carrier's key never loads another carrier's children,
guardians, families or contracts, whether by list, by id or through a
relationship. Master data (carriers, facilities, care offers, childminders)
is public within the hub and not scoped for reading.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, event, false, select, true
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from ekita.core.models import (
    CareContract,
    Child,
    ChildGuardian,
    Facility,
    Family,
    Guardian,
    GuardianContact,
    Pkn,
)
from ekita.core.models.enums import ContactVisibility, Role
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
from ekita.core.tracking import principal_of

UNRESTRICTED = frozenset({Role.ADMIN, Role.ZVS, Role.FINANCE})
# Execution option for reads the placement procedure makes for itself while a tenant acts
# (routing must see every preference and waiting-list entry of an application, signing
# closes the entries at other facilities). Services set it on their internal queries only;
# nothing they read that way is returned to the caller.
PROCEDURE_READ = "ekita_procedure_read"
NO_PERSONAL_DATA = frozenset({Role.OPS, Role.INTEGRATION})

CONTACT_VISIBILITY: dict[Role, frozenset[ContactVisibility]] = {
    Role.ADMIN: frozenset(ContactVisibility),
    Role.ZVS: frozenset({ContactVisibility.ADMINISTRATIVE}),
    Role.FINANCE: frozenset({ContactVisibility.ADMINISTRATIVE}),
    Role.CARRIER: frozenset({ContactVisibility.ADMINISTRATIVE}),
    Role.FACILITY_LEAD: frozenset(ContactVisibility),
}


def contract_criterion(
    role: Role, facility_id: int | None, carrier_id: int | None
) -> ColumnElement[bool]:
    if role in UNRESTRICTED:
        return true()
    if role == Role.FACILITY_LEAD:
        return CareContract.facility_id == facility_id
    if role == Role.CARRIER:
        own = select(Facility.id).where(Facility.carrier_id == carrier_id)
        return CareContract.facility_id.in_(own)
    return false()


def application_criterion(
    role: Role, facility_id: int | None, carrier_id: int | None
) -> ColumnElement[bool]:
    """A head (a carrier) sees an application only while it is under review, waiting,
    reserved or placed at her (its) facility (data-protection §7, R4)."""
    if role in UNRESTRICTED:
        return true()
    if role == Role.FACILITY_LEAD:
        facilities: Any = [facility_id]
    elif role == Role.CARRIER:
        facilities = select(Facility.id).where(Facility.carrier_id == carrier_id)
    else:
        return false()
    waiting = select(WaitingListEntry.application_id).where(
        WaitingListEntry.facility_id.in_(facilities),
        WaitingListEntry.status.in_([WaitingStatus.WAITING, WaitingStatus.OFFERED]))
    reserved = select(Reservation.application_id).where(
        Reservation.facility_id.in_(facilities), Reservation.status == ReservationStatus.ACTIVE)
    return (
        ((Application.state == ApplicationState.AT_FACILITY)
         & Application.current_facility_id.in_(facilities))
        | Application.id.in_(waiting)
        | Application.id.in_(reserved)
        | Application.placed_facility_id.in_(facilities)
    )


def _criteria(session: Session) -> list[Any]:
    p = principal_of(session)
    if p.role == Role.ADMIN:
        return []  # administrators and system principals (CLI, jobs) see everything
    if p.role in NO_PERSONAL_DATA:
        people = [CareContract, Child, Family, Pkn, Guardian, GuardianContact, ChildGuardian,
                  Application, ApplicationChild, Preference, WaitingListEntry, Reservation,
                  ContractExit]
        return [with_loader_criteria(m, false(), include_aliases=True) for m in people]
    contacts = GuardianContact.visibility.in_(
        [v.value for v in CONTACT_VISIBILITY.get(p.role, frozenset())]
    )
    if p.role in UNRESTRICTED:
        return [with_loader_criteria(GuardianContact, contacts, include_aliases=True)]
    contracts = contract_criterion(p.role, p.facility_id, p.carrier_id)
    applications = application_criterion(p.role, p.facility_id, p.carrier_id)
    # Children of applications at the facility are in scope too: the head reviews them,
    # contacts the guardians and signs the contract (3.6.5–3.6.7).
    child_ids = select(CareContract.child_id).where(contracts).union(
        select(ApplicationChild.child_id).join(
            Application, Application.id == ApplicationChild.application_id).where(applications))
    guardian_ids = select(ChildGuardian.guardian_id).where(ChildGuardian.child_id.in_(child_ids))
    family_ids = select(Child.family_id).where(Child.id.in_(child_ids))
    return [
        with_loader_criteria(CareContract, contracts, include_aliases=True),
        with_loader_criteria(Child, Child.id.in_(child_ids), include_aliases=True),
        with_loader_criteria(Pkn, Pkn.child_id.in_(child_ids), include_aliases=True),
        with_loader_criteria(
            ChildGuardian, ChildGuardian.child_id.in_(child_ids), include_aliases=True
        ),
        with_loader_criteria(Guardian, Guardian.id.in_(guardian_ids), include_aliases=True),
        with_loader_criteria(
            GuardianContact,
            contacts & GuardianContact.guardian_id.in_(guardian_ids),
            include_aliases=True,
        ),
        with_loader_criteria(Family, Family.id.in_(family_ids), include_aliases=True),
        with_loader_criteria(Application, applications, include_aliases=True),
        *_placement_criteria(p.role, p.facility_id, p.carrier_id, applications, contracts),
    ]


def _placement_criteria(role: Role, facility_id: int | None, carrier_id: int | None,
                        applications: ColumnElement[bool], contracts: ColumnElement[bool]
                        ) -> list[Any]:
    """Tenants: waiting-list entries and reservations of their facilities, the children of
    applications in scope, exits of their contracts, and never a preference (its rank, R4)."""
    if role == Role.FACILITY_LEAD:
        facilities: Any = [facility_id]
    else:
        facilities = select(Facility.id).where(Facility.carrier_id == carrier_id)
    return [
        with_loader_criteria(Preference, false(), include_aliases=True),
        with_loader_criteria(WaitingListEntry, WaitingListEntry.facility_id.in_(facilities),
                             include_aliases=True),
        with_loader_criteria(Reservation, Reservation.facility_id.in_(facilities),
                             include_aliases=True),
        with_loader_criteria(ApplicationChild, ApplicationChild.application_id.in_(
            select(Application.id).where(applications)), include_aliases=True),
        with_loader_criteria(ContractExit, ContractExit.contract_id.in_(
            select(CareContract.id).where(contracts)), include_aliases=True),
    ]


@event.listens_for(Session, "do_orm_execute")
def _scope_selects(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load:
        return
    if state.execution_options.get(PROCEDURE_READ):
        return  # the placement procedure's own bookkeeping reads (see PROCEDURE_READ)
    criteria = _criteria(state.session)
    if criteria:
        state.statement = state.statement.options(*criteria)
