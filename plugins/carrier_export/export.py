"""What a carrier receives: its facilities' contracts and placed applications
(Lastenheft 3.8, 3.19; interfaces.md §9), full or incremental.

Guardians (names only) are included only for children whose parents consented to the
transfer: an application of the child with ``consent_transfer_at`` set (data-protection
C3/C7; Lastenheft 3.3.2 "opt-in"). Children without such an application go without
guardians. Incremental exports hold the children touched (child, PKN, contract, guardian,
guardian link, application) since the position of the last export the carrier
acknowledged; the position is the audit trail's id, stored per carrier in
``exchange_cursor`` (``carrier_export:<carrier id>``). An export counts as acknowledged
once the delivery engine delivered it.

Everything is read with a handful of set-based SELECTs, never per row.

A text the profile's encoding cannot hold (a name with ``Đ`` for Windows-1252, a control
character for XML or Excel) never sinks the whole export (issue 12 item 11): ``fit_encoding``
transliterates the field or leaves the record out, as the profile says, and reports each
one by record (contract or application, child id) and field, never by its value.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.errors import NotFound
from ekita.core.models.audit import AuditEvent
from ekita.core.models.carriers import Carrier
from ekita.core.models.contracts import CareContract
from ekita.core.models.exchange import Cursor, MessageStatus, OutboxMessage
from ekita.core.models.facilities import Facility
from ekita.core.models.people import Child, ChildGuardian, Guardian, Pkn
from ekita.core.models.placement import Application, ApplicationChild, Preference
from ekita.hub.codepage import fits, transliterate
from ekita.plugins.carrier_export.profile import Profile
from ekita.plugins.carrier_export.records import (
    DATE_FIELDS,
    DECIMAL_FIELDS,
    FIELDS,
    REQUIRED,
    pack,
)

ADAPTER = "carrier_export"
TRACKED = ("child", "pkn", "care_contract", "guardian", "child_guardian", "application",
           "application_child")


def cursor_name(carrier_id: int) -> str:
    return f"{ADAPTER}:{carrier_id}"


def carrier_of(session: Session, ref: str | int) -> Carrier:
    """A carrier by id (or exact name); unknown ones are a clear NotFound."""
    carrier = None
    if str(ref).isdigit():
        carrier = session.get(Carrier, int(ref))
    if carrier is None:
        carrier = session.scalars(select(Carrier).where(Carrier.name == str(ref))).first()
    if carrier is None:
        raise NotFound(f"carrier {ref} not found", record="carrier", field="carrier",
                       rule="an existing carrier")
    return carrier


def acknowledged_position(session: Session, carrier_id: int) -> int:
    """The cursor, moved to the newest delivered export of the carrier (its acknowledgment)."""
    cursor = session.get(Cursor, cursor_name(carrier_id))
    delivered = session.scalars(
        select(OutboxMessage.business_key).where(
            OutboxMessage.adapter == ADAPTER, OutboxMessage.operation == "export",
            OutboxMessage.business_key.like(f"carrier:{carrier_id}:%"),
            OutboxMessage.status == MessageStatus.DELIVERED)).all()
    best = max((int(k.rsplit(":", 1)[1]) for k in delivered), default=0)
    if cursor is None:
        cursor = Cursor(name=cursor_name(carrier_id), position=0)
        session.add(cursor)
    if best > cursor.position:
        cursor.position = best
        cursor.updated_at = utcnow()
    session.flush()
    return cursor.position


def _changed_children(session: Session, since: int) -> set[int]:
    events = session.execute(select(AuditEvent.entity, AuditEvent.entity_id).where(
        AuditEvent.id > since, AuditEvent.entity.in_(TRACKED))).all()
    ids: dict[str, set[int]] = defaultdict(set)
    for entity, entity_id in events:
        ids[entity].add(entity_id)
    children = set(ids["child"])
    lookups = [
        (Pkn.child_id, Pkn.id, "pkn"), (CareContract.child_id, CareContract.id, "care_contract"),
        (ChildGuardian.child_id, ChildGuardian.id, "child_guardian"),
        (ChildGuardian.child_id, ChildGuardian.guardian_id, "guardian"),
        (ApplicationChild.child_id, ApplicationChild.application_id, "application"),
        (ApplicationChild.child_id, ApplicationChild.id, "application_child"),
    ]
    for child_col, key_col, entity in lookups:
        if ids[entity]:
            children.update(session.scalars(select(child_col).where(
                key_col.in_(sorted(ids[entity])))).all())
    return children


def _child_columns() -> tuple[Any, ...]:
    return (Child.id, Child.family_name, Child.first_name, Child.birth_date, Child.sex,
            Child.street, Child.house_no, Child.postcode, Child.town)


def _child_part(r: Any, pkns: dict[int, str]) -> dict[str, Any]:
    return {"child_id": r[0], "pkn": pkns.get(r[0]), "family_name": r[1], "first_name": r[2],
            "birth_date": r[3].isoformat(), "sex": str(r[4]), "street": r[5],
            "house_no": r[6], "postcode": r[7], "town": r[8]}


def collect(session: Session, carrier_id: int, *, since: int | None = None,
            today: date | None = None) -> list[dict[str, Any]]:
    """The flat rows for the carrier; ``since``: only children changed after that position."""
    today = today or date.today()
    facilities = dict(session.execute(select(Facility.id, Facility.cost_centre).where(
        Facility.carrier_id == carrier_id)).all())
    if not facilities:
        return []
    only = _changed_children(session, since) if since is not None else None
    contract_stmt = (
        select(*_child_columns(), CareContract.id, CareContract.facility_id,
               CareContract.care_type, CareContract.start_date, CareContract.end_date,
               CareContract.daily_hours)
        .join(CareContract, CareContract.child_id == Child.id)
        .where(CareContract.facility_id.in_(list(facilities)),
               or_(CareContract.end_date.is_(None), CareContract.end_date >= today))
        .order_by(CareContract.id))
    conn = session.connection()  # bulk reads as plain Core rows (the filter is explicit)
    contracts = conn.execute(contract_stmt).all()
    app_stmt = (
        select(*_child_columns(), Application.id, Application.placed_facility_id,
               Application.placed_start, Application.daily_hours)
        .join(ApplicationChild, ApplicationChild.child_id == Child.id)
        .join(Application, Application.id == ApplicationChild.application_id)
        .where(Application.placed_facility_id.in_(list(facilities)),
               Application.placed_start.is_not(None))
        .order_by(Application.id))
    applications = conn.execute(app_stmt).all()
    child_ids = {r[0] for r in contracts} | {r[0] for r in applications}
    if only is not None:
        child_ids &= only
    if not child_ids:
        return []
    # The carrier's children as a subquery, not a list: a city-sized IN list is slow.
    kids = select(CareContract.child_id).where(
        CareContract.facility_id.in_(list(facilities))).union(
        select(ApplicationChild.child_id).join(Application).where(
            Application.placed_facility_id.in_(list(facilities)))).scalar_subquery()
    pkns = dict(conn.execute(select(Pkn.child_id, Pkn.number).where(
        Pkn.child_id.in_(kids), Pkn.active.is_(True))).all())
    guardians: dict[int, list[dict[str, str]]] = defaultdict(list)
    consented = select(ApplicationChild.child_id).join(Application).where(
        ApplicationChild.child_id.in_(kids), Application.consent_transfer_at.is_not(None))
    for child_id, family_name, first_name in conn.execute(
            select(ChildGuardian.child_id, Guardian.family_name, Guardian.first_name)
            .join(Guardian, Guardian.id == ChildGuardian.guardian_id)
            .where(ChildGuardian.child_id.in_(consented.scalar_subquery()))
            .order_by(ChildGuardian.child_id, Guardian.id)):
        if len(guardians[child_id]) < 2:
            guardians[child_id].append({"family_name": family_name, "first_name": first_name})
    care_types = dict(conn.execute(
        select(Preference.application_id, func.min(Preference.care_type))
        .join(Application, Application.id == Preference.application_id)
        .where(Application.placed_facility_id.in_(list(facilities)),
               Preference.facility_id == Application.placed_facility_id)
        .group_by(Preference.application_id)).all())
    rows: list[dict[str, Any]] = []
    for r in contracts:
        if r[0] not in child_ids:
            continue
        rows.append({"record_type": "contract", "contract_ref": str(r[9]),
                     **_child_part(r, pkns), "facility": facilities[r[10]],
                     "care_type": str(r[11]), "start_date": r[12].isoformat(),
                     "end_date": r[13].isoformat() if r[13] else None,
                     "daily_hours": f"{r[14]:.2f}", **_guardian_cells(guardians.get(r[0], []))})
    for r in applications:
        if r[0] not in child_ids:
            continue
        rows.append({"record_type": "application", "contract_ref": f"A{r[9]}",
                     **_child_part(r, pkns), "facility": facilities[r[10]],
                     "care_type": str(care_types.get(r[9], "")), "start_date":
                     r[11].isoformat(), "end_date": None, "daily_hours": f"{r[12]:.2f}",
                     **_guardian_cells(guardians.get(r[0], []))})
    return rows


def _guardian_cells(guardians: list[dict[str, str]]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for slot, g in enumerate(guardians, start=1):
        cells[f"guardian{slot}_family_name"] = g["family_name"]
        cells[f"guardian{slot}_first_name"] = g["first_name"]
    return cells


def current_position(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEvent.id))) or 0)


def payload_for(carrier_id: int, kind: str, position: int, since: int, profile: str,
                rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"carrier_id": carrier_id, "kind": kind, "position": position, "since": since,
            "profile": profile, "records": pack(rows)}


TEXT_FIELDS = tuple(f for f in FIELDS if f not in DATE_FIELDS and f not in DECIMAL_FIELDS)


def record_of(row: dict[str, Any]) -> str:
    """The record a row stands for, by its ids only (no personal value)."""
    ref = str(row.get("contract_ref") or "")
    if ref.startswith("A"):
        return f"application {ref[1:]}"
    return f"contract {ref}" if ref else "record"


def fit_encoding(rows: list[dict[str, Any]], profile: Profile
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows the profile's file can hold, one finding per field that did not fit).

    ``unencodable = "transliterate"``: the field is spelled in the encoding and the row
    stays (unless a required field is left blank by it: then the row is left out);
    ``"quarantine"``: the row is left out. A finding names record, child id, field, rule
    and action, never the value (it goes to logs and the outbox payload).
    """
    xml = profile.format in ("xml", "xlsx")  # XML 1.0 characters only
    encoding = "utf-8" if xml else profile.encoding
    rule = (f"profile {profile.name}: encoding {encoding}"
            f"{' (XML 1.0 characters)' if xml else ''}, unencodable = {profile.unencodable}")
    kept: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for row in rows:
        bad = [f for f in TEXT_FIELDS if isinstance(row.get(f), str)
               and not fits(profile.to_file(f, row[f]), encoding, xml=xml)]
        if not bad:
            kept.append(row)
            continue
        fitted = {f: transliterate(row[f], encoding, xml=xml) for f in bad}
        blank = any(f in REQUIRED and not fitted[f].strip() for f in bad)
        action = ("left out" if profile.unencodable == "quarantine" or blank
                  else "transliterated")
        findings.extend({"record": record_of(row), "child_id": row.get("child_id"),
                         "field": f, "rule": rule, "action": action} for f in bad)
        if action == "transliterated":
            kept.append({**row, **fitted})
    return kept, findings


def findings_line(findings: list[dict[str, Any]]) -> str:
    """The findings for a log line or a job run's detail: ids and fields, no values."""
    return "; ".join(f"{f['record']} (child {f['child_id']}) {f['field']}: {f['action']}"
                     for f in findings)
