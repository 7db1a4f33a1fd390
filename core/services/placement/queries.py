"""Lists of the procedure: waiting lists in their order (L2, decisions D7), review lists.

Read on the tables (not through the ORM scoping) after the caller's right to the
facility was checked, because the order needs facts the head may not see (the
preference rank, the ZVS priority): they decide the order and never leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ekita.core.models import CareContract, Child, WaitingListEntry
from ekita.core.models.enums import CareType
from ekita.core.models.placement import Application, ApplicationChild, Preference
from ekita.core.services.placement.routing import OPEN_ENTRY
from ekita.core.tracking import today

A = Application.__table__.c
W = WaitingListEntry.__table__.c
AC = ApplicationChild.__table__.c
C = Child.__table__.c
P = Preference.__table__.c
K = CareContract.__table__.c


@dataclass
class WaitingRow:
    entry_id: int
    application_id: int
    care_type: CareType
    status: str
    listed_on: date
    routed_by_zvs: bool
    desired_start: date
    daily_hours: object
    integration_need: bool
    is_switch: bool
    confession: str | None
    sibling: bool
    urgent: int | None  # ZVS priority of a switch: ordering only, never shown to tenants
    oldest_birth: date
    child_ids: list[int] = field(default_factory=list)
    position: int = 0


def sort_key(row: WaitingRow) -> tuple:
    """L2 / D7: siblings, urgent switches, desired start, older child; never the filing date."""
    return (not row.sibling, row.urgent is None, row.urgent or 0, row.desired_start,
            row.oldest_birth, row.application_id)


def waiting_list(session: Session, facility_id: int, *, care_type: CareType | None = None
                 ) -> list[WaitingRow]:
    """The open entries of a facility's waiting list, in the default order (3.6.4)."""
    stmt = (select(W.id, W.application_id, W.care_type, W.status, W.listed_on, W.routed_by_zvs,
                   A.desired_start, A.daily_hours, A.integration_need, A.is_switch,
                   A.confession, A.sibling_in_first_preference, A.zvs_priority, A.family_id)
            .join(Application.__table__, A.id == W.application_id)
            .where(W.facility_id == facility_id,
                   W.status.in_([s.value for s in OPEN_ENTRY])))
    if care_type is not None:
        stmt = stmt.where(W.care_type == care_type.value)
    rows = session.execute(stmt).all()
    if not rows:
        return []
    app_ids = [r.application_id for r in rows]
    kids: dict[int, list[tuple[int, date]]] = {}
    for app_id, child_id, birth in session.execute(
            select(AC.application_id, AC.child_id, C.birth_date)
            .join(Child.__table__, C.id == AC.child_id).where(AC.application_id.in_(app_ids))):
        kids.setdefault(app_id, []).append((child_id, birth))
    first_here = set(session.scalars(select(P.application_id).where(
        P.application_id.in_(app_ids), P.rank == 1, P.facility_id == facility_id)))
    families = {r.family_id for r in rows}
    with_contract = {
        (fam, child) for fam, child in session.execute(
            select(C.family_id, C.id).join(CareContract.__table__, K.child_id == C.id)
            .where(K.facility_id == facility_id, C.family_id.in_(families),
                   or_(K.end_date.is_(None), K.end_date >= today())))}
    out = []
    for r in rows:
        own = kids.get(r.application_id, [])
        own_ids = {c for c, _ in own}
        sibling_here = any(fam == r.family_id and child not in own_ids
                           for fam, child in with_contract)
        out.append(WaitingRow(
            r.id, r.application_id, CareType(r.care_type), r.status, r.listed_on,
            r.routed_by_zvs, r.desired_start, r.daily_hours, r.integration_need, r.is_switch,
            r.confession,
            (r.sibling_in_first_preference and r.application_id in first_here) or sibling_here,
            r.zvs_priority if r.is_switch else None,
            min((b for _, b in own), default=date.max), [c for c, _ in own]))
    out.sort(key=sort_key)
    for i, row in enumerate(out, start=1):
        row.position = i
    return out
