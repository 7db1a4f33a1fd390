"""Taking in a carrier's file: contract starts, changes and exits, and child changes
(Lastenheft 3.8, 3.19; interfaces.md §9), for the carrier's own facilities only.

The import acts as the carrier (issue 12 item 2): the unit of work's principal is the
carrier's own (role carrier, ``carrier_id``, source ``carrier_exchange:<channel>``), so the
ORM scoping (``ekita.core.scoping``) limits every read to what the carrier already holds,
the services apply their tenant rules, and the audit rows name the carrier and the
channel. An administrator's session (the CLI, jobs) is switched to that principal for the
import; another tenant's is refused.

Order of work, all in the caller's transaction inside one savepoint:

1. The file as a whole: size cap, encoding, header, DOCTYPE (XML); the inbox hash
   (``accept_inbound``) over the bytes, per carrier, profile and mapping version: the same
   bytes twice with the same mapping change nothing, a corrected profile applies them.
2. Each row: converted and validated on its own; a bad row goes to quarantine with row,
   field, value and rule, the others are applied (or, with ``atomic = true`` in the
   profile, one bad row refuses the file).
3. Child matching (docs/carrier-exchange.md), among the children in the carrier's scope
   only: with a PKN, the child holding that active PKN, whose birth date must agree;
   without, the children with the same family name, first name (case-insensitive,
   trimmed) and birth date: exactly one is a match, several are "ambiguous", anything
   else gets one message (``NO_MATCH``) whatever the reason, so a file cannot probe
   other tenants' children. New children enter through the application (placement.md),
   never through a carrier file, so a child is never duplicated.
4. Upsert on business keys: the contract is (child, facility, start date), or the hub's
   contract number in ``contract_ref``; an unchanged row does nothing, a changed one goes
   through the same services (and rules) as a manual change, in its own savepoint.

A dry run does all of it and rolls the savepoint back; a refused file leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.db.base import utcnow
from ekita.core.errors import DomainError, Forbidden
from ekita.core.models.audit import AuditEvent
from ekita.core.models.carrier_exchange import CarrierImportReport
from ekita.core.models.contracts import CareContract
from ekita.core.models.enums import CareType, PayerKind, Role, Sex
from ekita.core.models.facilities import Facility
from ekita.core.models.people import Child, ChildGuardian, Pkn
from ekita.core.outbox import accept_inbound, checksum
from ekita.core.policy import Scope, criterion
from ekita.core.services import contracts as contract_service
from ekita.core.services import people as people_service
from ekita.core.services import terms
from ekita.core.services.base import require
from ekita.core.tracking import jsonable, principal_of, today
from ekita.plugins.carrier_export.export import ADAPTER, carrier_of
from ekita.plugins.carrier_export.formats import FileRefused, parse_csv, parse_xlsx, parse_xml
from ekita.plugins.carrier_export.profile import Profile
from ekita.plugins.carrier_export.records import REQUIRED
from ekita.plugins.carrier_export.report import ImportReport

CHILD_UPDATABLE = ("sex", "street", "house_no", "postcode", "town")
BULK_FIELDS = frozenset({"daily_hours", "end_date"})
R_MATCH = "carrier-exchange.md: child matching (issue 12 item 2: in the carrier's scope)"
R_TENANT = "interfaces.md §9: own facilities only"
#: The one answer for a row that matches no child of the carrier: the same whether the PKN
#: is unknown, belongs to another carrier's child or its birth date differs, so a (dry)
#: run cannot tell what other tenants hold (issue 12 item 2).
NO_MATCH = "no child with this PKN or name and birth date at your facilities"
#: The one answer for a facility that is not the carrier's: unknown or another carrier's.
NO_FACILITY = "not a facility of your carrier (unknown, or another carrier's)"
CHANNEL = "carrier_exchange"
#: Profile settings that do not change how bytes become rows: the description, and what
#: an export does with text its encoding cannot hold (``unencodable``, export only).
_NOT_MAPPING = frozenset({"description", "example", "verified", "verified_by", "unencodable"})


def mapping_version(profile: Profile) -> str:
    """A short hash of everything in the profile that turns bytes into rows (format,
    columns, value maps, ...): a corrected profile has another version (issue 12 item 12)."""
    settings = profile.model_dump(mode="json", exclude=set(_NOT_MAPPING))
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def carrier_principal(carrier_id: int, channel: str, name: str | None = None) -> Principal:
    """The principal an import of the carrier's file runs as (issue 12 item 2)."""
    return Principal(name=name or f"carrier:{carrier_id}", role=Role.CARRIER,
                     carrier_id=carrier_id, source=f"{CHANNEL}:{channel}"[:40])


@contextmanager
def acting_as_carrier(session: Session, carrier_id: int, channel: str | None = None
                      ) -> Iterator[Principal]:
    """Run the block as the carrier's principal, and restore the caller's afterwards.

    The carrier's own principal is kept (its source gets the channel); an administrator
    (CLI, jobs, tests) is replaced by ``carrier:<id>``; any other principal is refused, so
    no tenant imports for another. Pending changes are flushed first, under the caller.
    """
    caller = principal_of(session)
    given = channel or caller.source.removeprefix(f"{CHANNEL}:")
    if caller.role == Role.CARRIER and caller.carrier_id == carrier_id:
        acting = carrier_principal(carrier_id, given, caller.name)
    elif caller.role == Role.ADMIN:
        acting = carrier_principal(carrier_id, given)
    else:
        raise Forbidden("a carrier's file is imported by that carrier or an administrator",
                        record="carrier_file", field="carrier",
                        rule="issue 12 item 2: imports act as the carrier")
    session.flush()
    session.info["principal"] = acting
    try:
        yield acting
    finally:
        session.info["principal"] = caller


def rows_of(content: bytes, profile: Profile) -> Iterator[tuple[int, dict[str, str | None]]]:
    if profile.format == "xml":
        return parse_xml(content)
    if profile.format == "xlsx":
        return parse_xlsx(content, profile)
    return parse_csv(content, profile)


@dataclass
class _Row:
    family_name: str
    first_name: str
    birth_date: date
    facility: str
    care_type: CareType
    start_date: date
    end_date: date | None
    daily_hours: Decimal
    pkn: str | None
    contract_ref: str | None
    child: dict[str, Any]


class _Bad(Exception):
    def __init__(self, field: str, value: Any, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.value, self.rule, self.message = field, value, rule, message


@lru_cache(maxsize=65536)
def _parse_day(value: str, fmt: str) -> date:
    """Dates repeat (start dates, birthdays): parse each spelling once."""
    if fmt == "%Y-%m-%d" and len(value) == 10:
        return date.fromisoformat(value)
    return datetime.strptime(value, fmt).date()


def _convert(raw: dict[str, str | None], profile: Profile) -> _Row:
    """Typed values of one row, or ``_Bad`` naming the first faulty field."""
    get = raw.get  # readers trim cells and give None for empty ones
    if "__error__" in raw:
        raise _Bad("row", None, "the header's column count", str(raw["__error__"]))
    for field in REQUIRED:
        if get(field) is None:
            raise _Bad(field, None, "carrier-exchange.md: required fields", "missing")

    def day(field: str) -> date | None:
        value = get(field)
        if value is None:
            return None
        try:
            return _parse_day(value, profile.date_format)
        except ValueError:
            raise _Bad(field, value, f"date format {profile.date_format}",
                       "not a date in the profile's format") from None

    hours_text = get("daily_hours") or ""
    try:
        hours = Decimal(hours_text.replace(profile.decimal_separator, "."))
    except InvalidOperation:
        raise _Bad("daily_hours", hours_text, "a decimal number",
                   "not a number") from None
    care_text = get("care_type") or ""
    try:
        care_type = CareType(care_text)
    except ValueError:
        raise _Bad("care_type", care_text, "data-model.md §4: care types (value map)",
                   "unknown care type") from None
    low, high = care_type.tier_range
    if not hours.is_finite() or not low <= hours <= high:
        raise _Bad("daily_hours", hours_text, "Anlage B §4: daily hours per care type",
                   f"daily hours must lie between {low} and {high} for {care_type}")
    start, end = day("start_date"), day("end_date")
    assert start is not None
    if end is not None and end < start:
        raise _Bad("end_date", get("end_date"), "3.14.2.2: end not before start",
                   "the contract ends before it starts")
    child: dict[str, Any] = {}
    for field in CHILD_UPDATABLE:
        value = get(field)
        if value is not None:
            child[field] = value
    if "sex" in child:
        try:
            child["sex"] = Sex(child["sex"])
        except ValueError:
            raise _Bad("sex", child["sex"], "data-model.md: sex codes (value map)",
                       "unknown sex code") from None
    pkn = get("pkn")
    if pkn is not None and (len(pkn) != 8 or not pkn.isdigit()):
        raise _Bad("pkn", pkn, "D13: PKN has 8 digits", "not a PKN")
    birth = day("birth_date")
    assert birth is not None
    return _Row(get("family_name") or "", get("first_name") or "", birth,
                get("facility") or "", care_type, start, end, hours, pkn,
                get("contract_ref"), child)


class _Index:
    """Everything matching needs, read once with set-based SELECTs in the carrier's scope.

    The reads carry the carrier's row criteria of ``ekita.core.policy`` (the rules the
    ORM applies to every read of the carrier's session): children, PKNs and contracts of
    other carriers are not there to match. They are Core reads on the session's
    connection, written out with those criteria, because the ORM's row handling doubled
    the index's cost for a carrier with 40,000 contracts; the facilities and contracts
    are restricted to the carrier's own explicitly as well.
    """

    def __init__(self, session: Session, carrier_id: int) -> None:
        principal = principal_of(session)
        if principal.role != Role.CARRIER or principal.carrier_id != carrier_id:
            raise RuntimeError("the import index is read as the carrier (acting_as_carrier)")
        scope = Scope(principal)
        read = session.connection().execute
        self.facilities: dict[str, int] = dict(read(
            select(Facility.cost_centre, Facility.id).where(
                Facility.carrier_id == carrier_id)).tuples().all())
        own = list(self.facilities.values())
        self.by_name: dict[tuple[str, str, date], list[int]] = {}
        self.children: dict[int, dict[str, Any]] = {}
        for r in read(select(Child.id, Child.family_name, Child.first_name, Child.birth_date,
                             *(getattr(Child, f) for f in CHILD_UPDATABLE)
                             ).where(criterion(Child, scope))).all():
            key = (r[1].strip().casefold(), r[2].strip().casefold(), r[3])
            self.by_name.setdefault(key, []).append(r[0])
            self.children[r[0]] = {"birth_date": r[3], **dict(zip(CHILD_UPDATABLE, r[4:],
                                                                    strict=True))}
        self.pkns: dict[str, int] = {number: child for number, child in read(
            select(Pkn.number, Pkn.child_id).where(Pkn.active.is_(True),
                                                   criterion(Pkn, scope))).tuples()
            if child in self.children}
        self.contracts: dict[tuple[int, int, date], dict[str, Any]] = {}
        self.contract_ids: dict[int, tuple[int, int, date]] = {}
        if own:
            for r in read(select(
                    CareContract.id, CareContract.child_id, CareContract.facility_id,
                    CareContract.start_date, CareContract.care_type, CareContract.end_date,
                    CareContract.daily_hours).where(CareContract.facility_id.in_(own),
                                                    criterion(CareContract, scope))).all():
                key = (r[1], r[2], r[3])
                self.contracts[key] = {"id": r[0], "care_type": r[4], "end_date": r[5],
                                       "start_date": r[3], "facility_id": r[2],
                                       "daily_hours": r[6]}
                self.contract_ids[r[0]] = key

    def match(self, row: _Row) -> int:
        """The carrier's child the row names; ``NO_MATCH`` for anything else."""
        field, value = ("pkn", row.pkn) if row.pkn is not None else (
            "family_name", row.family_name)
        if row.pkn is not None:
            child_id = self.pkns.get(row.pkn)
            if child_id is None or self.children[child_id]["birth_date"] != row.birth_date:
                raise _Bad(field, value, R_MATCH, NO_MATCH)
            return child_id
        found = self.by_name.get((row.family_name.casefold(), row.first_name.casefold(),
                                  row.birth_date), [])
        if not found:
            raise _Bad(field, value, R_MATCH, NO_MATCH)
        if len(found) > 1:  # all of them the carrier's own: telling it reveals nothing
            raise _Bad(field, value, R_MATCH,
                       f"ambiguous: {len(found)} of your children share name and birth "
                       "date; give the PKN")
        return found[0]


def _apply(session: Session, index: _Index, row: _Row,
           seen: dict[tuple[int, int, date], int], line: int, bulk: list[Any]) -> str:
    """'created', 'updated' or 'unchanged'; raises ``_Bad`` or ``DomainError``."""
    facility_id = index.facilities.get(row.facility)
    if facility_id is None:  # unknown or another carrier's: one answer (issue 12 item 2)
        raise _Bad("facility", row.facility, R_TENANT, NO_FACILITY)
    child_id = index.match(row)
    key = (child_id, facility_id, row.start_date)
    if row.contract_ref and row.contract_ref.isdigit():
        ref_key = index.contract_ids.get(int(row.contract_ref))
        if ref_key is None or ref_key[0] != child_id:
            raise _Bad("contract_ref", row.contract_ref, R_TENANT,
                       "no contract of this child at your facilities")
        key = ref_key
    if key in seen:
        raise _Bad("row", None, "one row per contract and file",
                   f"duplicate of row {seen[key]}")
    seen[key] = line
    child_now = index.children[child_id]
    child_diff = {f: v for f, v in row.child.items() if child_now.get(f) != v}
    existing = index.contracts.get(key)
    wanted = {"care_type": row.care_type, "end_date": row.end_date,
              "daily_hours": row.daily_hours}
    if key != (child_id, facility_id, row.start_date):  # moved by contract_ref
        wanted.update(start_date=row.start_date, facility_id=facility_id)
    contract_diff = ({f: v for f, v in wanted.items() if existing.get(f) != v}
                     if existing is not None else wanted)
    if not child_diff and existing is not None and not contract_diff:
        return "unchanged"
    if not child_diff and existing is not None and set(contract_diff) <= BULK_FIELDS:
        # Hours and end date only: every service rule on them (tier range, period order)
        # was checked in _convert, so the change joins one bulk UPDATE with its audit rows.
        bulk.append((existing["id"], {f: existing[f] for f in BULK_FIELDS}, contract_diff))
        existing.update(contract_diff)
        return "updated"
    with session.begin_nested():
        if child_diff:
            people_service.update_child(session, child_id, child_diff)
        if existing is None:
            payer = session.scalar(select(func.min(ChildGuardian.guardian_id)).where(
                ChildGuardian.child_id == child_id))
            if payer is None:
                raise _Bad("family_name", row.family_name, "3.14.2.2: a contract has a payer",
                           "the child has no guardian in the hub to be the payer")
            contract = contract_service.create_contract(session, {
                "child_id": child_id, "facility_id": facility_id,
                "care_type": row.care_type, "start_date": row.start_date,
                "end_date": row.end_date, "daily_hours": row.daily_hours,
                "payer_guardian_id": payer, "payer_kind": PayerKind.DIRECT_DEBIT})
        elif contract_diff:
            contract_service.update_contract(session, existing["id"], contract_diff)
    child_now.update(child_diff)
    if existing is None:
        index.contracts[key] = {"id": contract.id, **wanted}
        index.contract_ids[contract.id] = key
        return "created"
    existing.update(contract_diff)
    return "updated"


def import_file(session: Session, carrier: int | str, content: bytes, *, source: str,
                profile: Profile, dry_run: bool = False,
                progress: Callable[[int], None] | None = None,
                channel: str | None = None) -> ImportReport:
    """Take in one file as the carrier; returns its report (stored unless a dry run).

    ``channel`` names the way the file came in for the audit rows (default: the caller's
    source, e.g. ``cli``); see ``acting_as_carrier`` for who may import.
    """
    carrier_id = carrier_of(session, carrier).id
    with acting_as_carrier(session, carrier_id, channel):
        return _import(session, carrier_id, content, source, profile, dry_run, progress)


def _import(session: Session, carrier_id: int, content: bytes, source: str, profile: Profile,
            dry_run: bool, progress: Callable[[int], None] | None) -> ImportReport:
    version = mapping_version(profile)
    report = ImportReport(carrier_id=carrier_id, source=source[:300], profile=profile.name,
                          content_hash=checksum(content), dry_run=dry_run)
    outer = session.begin_nested()
    try:
        _run(session, report, carrier_id, content, profile, progress, version)
    except FileRefused as exc:
        report.status = "refused"
        report.quarantine_row(exc.row, exc.field or "file", None, exc.rule or "",
                              exc.message)
    refused = report.status == "refused" or (profile.atomic and report.quarantine)
    if refused:
        report.status = "refused"
        report.created = report.updated = 0
    elif report.status != "duplicate" and report.quarantine:
        report.status = "partial"
    if refused or dry_run:
        outer.rollback()
    else:
        outer.commit()
    if not dry_run:
        stored = CarrierImportReport(
            carrier_id=carrier_id, source=report.source, profile=profile.name,
            mapping_version=version, content_hash=report.content_hash, status=report.status,
            rows_total=report.rows_total, applied=report.applied, quarantined=0, report={})
        session.add(stored)
        session.flush()
        report.id = stored.id
        body = report.as_dict()
        stored.quarantined = int(body["quarantined"])
        stored.report = {**body, "mapping_version": version}
        session.flush()
    return report


def inbox_kind(carrier_id: int, profile: Profile, version: str | None = None) -> str:
    """The inbox kind of a carrier's import: the bytes count as seen per carrier, profile
    and mapping version, so a file re-imported with a corrected profile is applied
    (issue 12 item 12). Hashed to fit ``inbox_entry.kind``."""
    key = f"{profile.name}\0{version or mapping_version(profile)}".encode()
    return f"import:{carrier_id}:{hashlib.sha256(key).hexdigest()[:24]}"


def _run(session: Session, report: ImportReport, carrier_id: int, content: bytes,
         profile: Profile, progress: Callable[[int], None] | None,
         version: str | None = None) -> None:
    if not content.strip():
        raise FileRefused("the file is empty", field="file", rule="a header and rows")
    if len(content) > profile.max_bytes:
        raise FileRefused(f"the file has {len(content)} bytes, more than the cap of "
                          f"{profile.max_bytes}", field="file",
                          rule="interfaces.md §2.5: file-size caps")
    entry = accept_inbound(session, adapter=ADAPTER, kind=inbox_kind(carrier_id, profile,
                                                                      version),
                           content=content, source=report.source)
    index = _Index(session, carrier_id)
    seen: dict[tuple[int, int, date], int] = {}
    bulk: list[Any] = []
    for line, raw in rows_of(content, profile):
        report.rows_total += 1
        if progress is not None:
            progress(1)
        if entry is None:
            continue  # count the rows, change nothing
        if (raw.get("record_type") or "contract") == "application":
            report.skipped += 1
            continue
        try:
            outcome = _apply(session, index, _convert(raw, profile), seen, line, bulk)
        except _Bad as bad:
            report.quarantine_row(line, bad.field, bad.value, bad.rule, bad.message)
            continue
        except DomainError as err:
            report.quarantine_row(line, err.field or "row", None, err.rule or "",
                                  err.message)
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    if entry is None:
        report.status = "duplicate"  # imported before (inbox hash): nothing changed
        return
    if report.rows_total == 0:
        raise FileRefused("the file has a header but no rows", field="file",
                          rule="at least one row")
    _bulk_update(session, carrier_id, bulk)
    entry.record_count = report.rows_total


def _bulk_update(session: Session, carrier_id: int,
                 bulk: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> None:
    """Hours and end dates of many contracts in one UPDATE, audited like an ORM flush
    (one ``audit_event`` per contract with the changed fields, ``ekita.core.tracking``).

    A Core UPDATE gets no ORM scoping, so it names the carrier's facilities itself: the
    ids come from the scoped index, and the statement could not touch another's anyway."""
    if not bulk:
        return
    require(session, Permission.CONTRACTS_WRITE)  # what the service would ask
    table = CareContract.__table__
    now = utcnow()
    params = [{"b_id": cid, "b_hours": diff.get("daily_hours", old["daily_hours"]),
               "b_end": diff.get("end_date", old["end_date"]), "b_now": now}
              for cid, old, diff in bulk]
    conn = session.connection()
    own = select(Facility.id).where(Facility.carrier_id == carrier_id).scalar_subquery()
    conn.execute(table.update().where(
        table.c.id == bindparam("b_id"), table.c.facility_id.in_(own)).values(
        daily_hours=bindparam("b_hours"), end_date=bindparam("b_end"),
        updated_at=bindparam("b_now")), params)
    principal = principal_of(session)
    day = session.info.get("valid_from") or today()
    conn.execute(insert(AuditEvent), [
        {"recorded_at": now, "actor": principal.name, "source": principal.source,
         "entity": "care_contract", "entity_id": cid, "action": "update", "valid_from": day,
         "changes": {f: [jsonable(old[f]), jsonable(v)] for f, v in diff.items()}}
        for cid, old, diff in bulk])
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CareContract):
            session.expire(obj)
    _bulk_terms(session, bulk, day)


def _bulk_terms(session: Session, bulk: list[tuple[int, dict[str, Any], dict[str, Any]]],
                day: date) -> None:
    """The bulk rows' changes in the contracts' dated terms (issue 13 item 1), which the
    fee engine reads: new hours valid from the import's business date, terms fitted to a
    new end date. A carrier reports what it agreed, so the city's notice rule is not its
    to keep (decisions F25)."""
    contracts = {c.id: c for c in session.scalars(
        select(CareContract).where(CareContract.id.in_([cid for cid, _, _ in bulk])))}
    with session.no_autoflush:
        stored = terms.preload(session, list(contracts.values()))
        for cid, _old, diff in bulk:
            contract, rows = contracts[cid], stored[cid]
            if "end_date" in diff:
                terms.fit_to_period(session, contract, flush=False, rows=rows)
            if "daily_hours" in diff:
                last = contract.end_date
                terms.change(session, contract, min(day, last) if last else day,
                             {"daily_hours": diff["daily_hours"]}, rows=rows,
                             override_reason="reported in the carrier's file")
    session.flush()
