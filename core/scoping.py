"""Row scoping in the query layer (Lastenheft 3.15.2, 4.2.4; data-protection R1, R2, R7, M8;
issue 12 item 1).

Every ORM ``SELECT`` issued by a session carries the principal's row criteria for every
tracked entity, taken from the policy table ``ekita.core.policy.POLICY`` and added here
through ``with_loader_criteria``. Routes and services therefore cannot forget them: a
carrier's key never loads another carrier's children, contracts, payment setups or fee
options, whether by list, by id, through a relationship, through the history route or a
plugin's route. An entity without a policy entry is readable by administrators only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, event, false, true
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from ekita.core.models.enums import Role
from ekita.core.policy import ALL, CONTACT_VISIBILITY, Scope, criterion, rule_for, tracked_entities
from ekita.core.tracking import principal_of

__all__ = ["CONTACT_VISIBILITY", "NO_PERSONAL_DATA", "PROCEDURE_READ", "UNRESTRICTED",
           "application_criterion", "contract_criterion"]

UNRESTRICTED = frozenset({Role.ADMIN, Role.ZVS, Role.FINANCE})
# Execution option for reads the placement procedure makes for itself while a tenant acts
# (routing must see every preference and waiting-list entry of an application, signing
# closes the entries at other facilities). Services set it on their internal queries only;
# nothing they read that way is returned to the caller.
PROCEDURE_READ = "ekita_procedure_read"
NO_PERSONAL_DATA = frozenset({Role.OPS, Role.INTEGRATION})


def _scope(role: Role, facility_id: int | None, carrier_id: int | None) -> Scope:
    from ekita.core.access import Principal

    return Scope(Principal(name="scope", role=role, facility_id=facility_id,
                           carrier_id=carrier_id))


def contract_criterion(
    role: Role, facility_id: int | None, carrier_id: int | None
) -> ColumnElement[bool]:
    if role in UNRESTRICTED:
        return true()
    if role in (Role.FACILITY_LEAD, Role.CARRIER):
        return _scope(role, facility_id, carrier_id).contracts
    return false()


def application_criterion(
    role: Role, facility_id: int | None, carrier_id: int | None
) -> ColumnElement[bool]:
    """A head (a carrier) sees an application only while it is under review, waiting,
    reserved or placed at her (its) facility (data-protection §7, R4)."""
    if role in UNRESTRICTED:
        return true()
    if role in (Role.FACILITY_LEAD, Role.CARRIER):
        return _scope(role, facility_id, carrier_id).applications
    return false()


def _criteria(session: Session) -> list[Any]:
    p = principal_of(session)
    if p.role == Role.ADMIN:
        return []  # administrators and system principals (CLI, jobs) see everything
    scope = Scope(p)
    return [with_loader_criteria(cls, criterion(cls, scope), include_aliases=True)
            for cls in tracked_entities().values() if rule_for(cls, p.role) is not ALL]


@event.listens_for(Session, "do_orm_execute")
def _scope_selects(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load:
        return
    if state.execution_options.get(PROCEDURE_READ):
        return  # the placement procedure's own bookkeeping reads (see PROCEDURE_READ)
    criteria = _criteria(state.session)
    if criteria:
        state.statement = state.statement.options(*criteria)
