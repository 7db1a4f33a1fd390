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

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from ekita.core.models.enums import Role
from ekita.core.policy import ALL, Scope, criterion, rule_for, tracked_entities
from ekita.core.tracking import principal_of

# Execution option for reads the placement procedure makes for itself while a tenant acts
# (routing must see every preference and waiting-list entry of an application, signing
# closes the entries at other facilities). Services set it on their internal queries only;
# nothing they read that way is returned to the caller.
PROCEDURE_READ = "ekita_procedure_read"


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
