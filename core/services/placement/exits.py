"""Exits (Austritt, 3.6.15; placement.md §15.3): the notice, the exit date and the freed place.

The 2-month notice rule (decisions D3; Hort D4) is checked and reported as a warning,
never as a refusal: the head records what the parents declared. From the day after the
exit the place is free; the facility's waiting list, in its order, goes with the event.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models import CareContract, ContractExit, Facility
from ekita.core.services.base import load
from ekita.core.services.placement import queries
from ekita.core.services.placement.applications import earliest_exit
from ekita.core.services.placement.eligibility import HORT_TYPES
from ekita.core.services.placement.events import Kind, emit
from ekita.core.services.placement.reservations import _facility_for
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.tracking import today


def record_exit(session: Session, contract_id: int, *, exit_date: date,
                notice_received_on: date, rules: PlacementRules, reason: str | None = None,
                on: date | None = None) -> tuple[ContractExit, list[str]]:
    """Record a notice and end the contract on ``exit_date`` (3.6.15)."""
    on = on or today()
    contract = load(session, CareContract, contract_id)
    if contract.facility_id is not None:
        facility: Facility | None = _facility_for(session, contract.facility_id)
    else:
        facility = None
        from ekita.core.access import Permission
        from ekita.core.services.base import require

        require(session, Permission.PLACEMENT_ZVS)
    if session.query(ContractExit).filter_by(contract_id=contract.id).first() is not None:
        raise Conflict(f"care_contract {contract_id} already has an exit", record="contract_exit",
                       field="contract_id", rule="one exit per contract")
    if exit_date < contract.start_date:
        raise RuleViolation("the exit date is before the start of care", record="contract_exit",
                            field="exit_date", rule="start_date <= exit_date")
    if contract.end_date is not None and exit_date > contract.end_date:
        raise RuleViolation("the contract ends before that date", record="contract_exit",
                            field="exit_date", rule="exit within the contract period")
    hort = contract.care_type in HORT_TYPES
    earliest = earliest_exit(notice_received_on, rules.notice_period_months, hort=hort)
    warnings = []
    if exit_date < earliest:
        rule = "1 month to the end of the following month (002 §11)" if hort else (
            f"{rules.notice_period_months} months' notice (Anlage B §9(7), decisions D3)")
        warnings.append(f"short notice: received on {notice_received_on}, the earliest exit "
                        f"is {earliest} ({rule})")
    record = ContractExit(contract_id=contract.id, notice_received_on=notice_received_on,
                          exit_date=exit_date, reason=reason, short_notice=bool(warnings))
    session.add(record)
    contract.end_date = exit_date
    session.flush()
    emit(session, Kind.EXITED, on, None, contract.facility_id, contract_id=contract.id,
         child_ids=[contract.child_id], exit_date=exit_date,
         notice_received_on=notice_received_on, short_notice=bool(warnings),
         care_type=contract.care_type, childminder_id=contract.childminder_id)
    if facility is not None:
        waiting = [e.application_id for e in queries.waiting_list(
            session, facility.id, care_type=contract.care_type)]
        emit(session, Kind.PLACE_FREED, on, None, facility.id, care_type=contract.care_type,
             free_from=exit_date + timedelta(days=1), waiting_application_ids=waiting)
    return record, warnings
