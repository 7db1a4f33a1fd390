"""The generated leak test of issue 12 item 1 (must-have 1; data-protection.md §3, §7, M3, M8).

Threat: a tenant, a fee-office or a technical key reads a record (or one field of it) it
must not see through some route that forgot the scope — the entity route, a list, the
history route or the audit view. The cases are generated from ``Base.registry.mappers``
and the policy table ``ekita.core.policy.POLICY``, not written by hand: every tracked
entity × every role (tenant-bound roles bound to tenant A) × every record of the world.
A record outside the role's rows must not come back (no 200 with it, none of its values
in any answer); a record inside them must come back (the positive control, so the walk
can fail), with every masked or omitted field masked or omitted.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from ekita.core.access import MASK, OMIT_FOR_TENANTS, Permission, Principal, may_reveal
from ekita.core.db.base import Base, Tracked
from ekita.core.models import (
    Application,
    ApplicationChild,
    ArrearsCase,
    Child,
    ContractExit,
    DocumentTemplate,
    ExtraCare,
    FacilityFeeOption,
    FamilyFile,
    FeeFact,
    FeeStatute,
    PaymentSetup,
    Preference,
    Reservation,
    SiblingLink,
    WaitingListEntry,
)
from ekita.core.models.arrears import ArrearsStatus
from ekita.core.models.documents import DocumentType
from ekita.core.models.enums import CareType, CarrierCategory, NotificationChannel, Role
from ekita.core.models.fees import FactKind, PaymentMethod
from ekita.core.models.placement import ApplicationState, ReservationStatus, WaitingStatus
from ekita.core.policy import (
    POLICY,
    ROUTING_FIELDS,
    TENANT_APPLICATION_FIELDS,
    TENANTS,
    Scope,
    criterion,
    may_read,
    policy_for,
)
from ekita.core.schemas.placement import FacilityApplicationOut
from ekita.core.services import masterdata
from ekita.core.tracking import today, utcnow
from tests.api import client, key
from tests.conftest import work
from tests.world import START, add_applicant, add_child, carrier_data, facility_data

TRACKED = {m.class_.__tablename__: m.class_ for m in Base.registry.mappers
           if issubclass(m.class_, Tracked)}
MASTER = {"carrier", "facility", "care_offer", "childminding_office", "childminder"}
API = "/api/v1"


def test_every_tracked_entity_has_a_policy_entry():
    """Issue 12 item 1: default deny — a tracked model without an explicit scope rule would
    be readable by administrators only; this fails so the rule is written, not forgotten."""
    missing = sorted(name for name, cls in TRACKED.items() if cls not in POLICY)
    assert missing == [], f"tracked entities without a policy entry: {missing}"
    assert set(POLICY) <= set(TRACKED.values())


def test_tenant_application_fields_are_the_facility_view():
    """R4/R5, D19: history and audit give a head exactly what the placement route's
    FacilityApplicationOut gives her (never a rank, priority, switch reason or remark)."""
    facility_view = set(FacilityApplicationOut.model_fields) - {"child_ids"}
    assert facility_view == TENANT_APPLICATION_FIELDS
    assert not TENANT_APPLICATION_FIELDS & {"current_rank", "placed_rank", "zvs_priority",
                                            "switch_reason", "remark"}


# ------------------------------------------------------------------------------ the world


@dataclass
class Tenant:
    carrier: int
    facility: int
    records: dict[str, set[int]] = field(default_factory=dict)  # table -> ids of the tenant
    routed: int = 0  # an application waiting here, routed on to the other tenant
    def add(self, obj: Any) -> None:
        self.records.setdefault(obj.__tablename__, set()).add(obj.id)


def _flush(s: Any, tenant: Tenant | None, *objs: Any) -> None:
    s.add_all(objs)
    s.flush()
    for obj in objs:
        if tenant is not None:
            tenant.add(obj)


def _application(s: Any, tenant: Tenant, family: int, child: int, *, waiting_at: int,
                 current_at: int, rank: int, reserve: bool) -> int:
    now = utcnow()
    app = Application(
        family_id=family, state=ApplicationState.AT_FACILITY, desired_start=START,
        window_entry=START, daily_hours=Decimal("9"), switch_reason=f"wechsel-{uuid.uuid4()}",
        zvs_priority=3, notification_channel=NotificationChannel.POST, consent_privacy_at=now,
        consent_transfer_at=now, consent_terms_at=now, submitted_at=now, submitted_on=START,
        current_rank=rank, current_facility_id=current_at, review_due_on=today(),
        remark=f"vermerk-{uuid.uuid4()}")
    routed = current_at != waiting_at  # then it is the other tenant's to review now
    _flush(s, None if routed else tenant, app)
    _flush(s, None if routed else tenant, ApplicationChild(application_id=app.id, child_id=child))
    rows: list[Any] = [
        Preference(application_id=app.id, rank=1, facility_id=waiting_at,
                   care_type=CareType.KINDERGARTEN),
        WaitingListEntry(application_id=app.id, facility_id=waiting_at,
                         care_type=CareType.KINDERGARTEN, status=WaitingStatus.WAITING,
                         listed_on=START)]
    if rank > 1:
        rows.append(Preference(application_id=app.id, rank=rank, facility_id=current_at,
                               care_type=CareType.KINDERGARTEN))
    if reserve:
        rows.append(Reservation(application_id=app.id, child_id=child, facility_id=waiting_at,
                                care_type=CareType.KINDERGARTEN, starts_on=START,
                                follow_up_on=START + timedelta(days=14),
                                status=ReservationStatus.ACTIVE))
    _flush(s, tenant, *rows)
    return app.id


def _tenant_records(s: Any, tenant: Tenant, n: int, other_facility: int) -> None:
    """Children, guardians, contracts and fee, bank, e-file and placement data at one
    tenant's facility; distinct strings per record so a leaked value can be recognised."""
    first = add_child(s, tenant.facility, n)
    second = add_child(s, tenant.facility, n + 50)
    (child, guardian, contract, family), (child2, _g2, contract2, _f2) = first, second
    tag = uuid.uuid4().hex[:8]
    _flush(s, tenant,
           FeeFact(child_id=child, contract_id=contract, kind=FactKind.SINGLE_PARENT,
                   valid_from=START, reason=f"einkommen-{tag}"),
           SiblingLink(child_id=child, sibling_id=child2, valid_from=START),
           FacilityFeeOption(facility_id=tenant.facility, kg_from_34_months=True),
           ExtraCare(contract_id=contract, day=START, exceeded_tiers=2),
           PaymentSetup(guardian_id=guardian, payment_method=PaymentMethod.DIRECT_DEBIT,
                        iban_encrypted=f"cipher-{tag}", bic=f"BIC{tag[:5]}",
                        holder=f"Inhaber-{tag}", mandate_reference=f"M-{tag}"),
           ArrearsCase(pkn=f"9{n:07d}", debtor_no=f"D-{tag}", months_overdue=3,
                       amount_overdue_cents=12000, oldest_due_date=START, as_of=START,
                       status=ArrearsStatus.TERMINATION_STARTED,
                       termination_started_on=START, termination_reason=f"kuendigung-{tag}"),
           FamilyFile(family_id=family, file_key=f"F{tag}", uuid=str(uuid.uuid4())),
           ContractExit(contract_id=contract2, notice_received_on=START,
                        exit_date=START + timedelta(days=90), reason=f"umzug-{tag}"))
    _application(s, tenant, family, child, waiting_at=tenant.facility,
                 current_at=tenant.facility, rank=1, reserve=True)
    # Routed on: still waiting here, but now under review at the other tenant's facility.
    # Its routing state (where it went next) must not reach this tenant (R4).
    later, _g = add_applicant(s, n + 80, START - timedelta(days=3 * 365))
    tenant.routed = _application(s, tenant, s.get(Child, later).family_id, later,
                                 waiting_at=tenant.facility, current_at=other_facility,
                                 rank=2, reserve=False)
    for table, ids in _people_ids(s, tenant.facility).items():
        tenant.records.setdefault(table, set()).update(ids)


def _people_ids(s: Any, facility: int) -> dict[str, set[int]]:
    """The people records hanging off the tenant's contracts (made by the world builder)."""
    from ekita.core.models import (
        CareContract,
        Child,
        ChildGuardian,
        ContractTerm,
        GuardianContact,
        Pkn,
    )

    contracts = list(s.scalars(select(CareContract).where(CareContract.facility_id == facility)))
    children = {c.child_id for c in contracts}
    guardians = set(s.scalars(select(ChildGuardian.guardian_id).where(
        ChildGuardian.child_id.in_(children))))
    return {
        "care_contract": {c.id for c in contracts},
        "contract_term": set(s.scalars(select(ContractTerm.id).where(  # issue 13 item 1
            ContractTerm.contract_id.in_({c.id for c in contracts})))),
        "child": children,
        "family": set(s.scalars(select(Child.family_id).where(Child.id.in_(children)))),
        "guardian": guardians,
        "child_guardian": set(s.scalars(select(ChildGuardian.id).where(
            ChildGuardian.child_id.in_(children)))),
        "guardian_contact": set(s.scalars(select(GuardianContact.id).where(
            GuardianContact.guardian_id.in_(guardians)))),
        "pkn": set(s.scalars(select(Pkn.id).where(Pkn.child_id.in_(children)))),
    }


@dataclass
class World:
    a: Tenant  # an independent carrier: the tenant whose keys walk the routes
    b: Tenant  # the municipal carrier: the other tenant


def build(engine: Engine) -> World:
    with work(engine) as s:
        ca = masterdata.create_carrier(s, carrier_data("Traeger A"))
        cb = masterdata.create_carrier(s, carrier_data("Traeger B", CarrierCategory.MUNICIPAL))
        fa = masterdata.create_facility(s, facility_data(ca.id, "Kita A", "KST-A"))
        fb = masterdata.create_facility(s, facility_data(cb.id, "Kita B", "KST-B", "02"))
        for f in (fa, fb):
            masterdata.add_care_offer(s, f.id, {"care_type": CareType.KINDERGARTEN,
                                                "approved_places": 50, "valid_from": START})
        office = masterdata.create_office(s, {"name": "BVS-KTP Mitte"})
        masterdata.create_childminder(s, {
            "office_id": office.id, "family_name": "Tagesmutter", "first_name": "Tina",
            "cost_centre": "TP-1", "stadtteil_nr": "01", "capacity": 5,
            "iban": "DE02120300000000202051"})
        world = World(Tenant(ca.id, fa.id), Tenant(cb.id, fb.id))
        _tenant_records(s, world.a, 1, fb.id)
        _tenant_records(s, world.b, 11, fa.id)
        _flush(s, None,
               FeeStatute(name="Satzung 2020", valid_from=START, params={}),
               DocumentTemplate(doc_type=next(iter(DocumentType)), title="Bescheid",
                                valid_from=START, statute_ref="Satzung 2020",
                                body="<p>{{ name }}</p>"))
    return world


# ------------------------------------------------------------------------------ the routes


def _one(template: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda row: [template.format(**row)]


# The route returning one record of the entity, by its values (None: the entity has none).
ENTITY_ROUTES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "carrier": _one(API + "/carriers/{id}"),
    "facility": _one(API + "/facilities/{id}"),
    "childminder": _one(API + "/childminders/{id}"),
    "family": _one(API + "/families/{id}"),
    "child": _one(API + "/children/{id}"),
    "guardian": _one(API + "/guardians/{id}"),
    "care_contract": _one(API + "/contracts/{id}"),
    "application": _one(API + "/placement/applications/{id}"),
    "family_file": _one(API + "/families/{family_id}/file"),
}
# The lists that can carry a record of the entity, and where its id sits in an item.
LIST_ROUTES: dict[str, tuple[Callable[[dict[str, Any]], list[str]], str]] = {
    "carrier": (_one(API + "/carriers"), "id"),
    "facility": (_one(API + "/facilities"), "id"),
    "care_offer": (_one(API + "/facilities/{facility_id}/care-offers"), "id"),
    "childminding_office": (_one(API + "/childminding-offices"), "id"),
    "childminder": (_one(API + "/childminders"), "id"),
    "family": (_one(API + "/families"), "id"),
    "child": (_one(API + "/children"), "id"),
    "guardian": (_one(API + "/guardians"), "id"),
    "guardian_contact": (_one(API + "/guardians/{guardian_id}"), "contacts.id"),
    "pkn": (_one(API + "/children/{child_id}/pkns"), "id"),
    "care_contract": (_one(API + "/contracts"), "id"),
    "application": (_one(API + "/placement/applications"), "id"),
    "waiting_list_entry": (_one(API + "/placement/facilities/{facility_id}/waiting-list"),
                           "entry_id"),
    "reservation": (lambda r: [f"{API}/placement/applications/{r['application_id']}"
                               "/reservations",
                               f"{API}/placement/facilities/{r['facility_id']}/reservations"],
                    "id"),
    "fee_fact": (_one(API + "/fees/facts?child_id={child_id}"), "id"),
    "fee_statute": (_one(API + "/fees/statutes"), "id"),
    "document_template": (_one(API + "/document-templates"), "id"),
}


def _items(body: Any) -> list[Any]:
    if isinstance(body, dict) and "items" in body:
        return body["items"]
    return body if isinstance(body, list) else [body]


def _ids(body: Any, path: str) -> set[int]:
    found: set[int] = set()
    for item in _items(body):
        if not isinstance(item, dict):
            continue
        if "." in path:
            outer, inner = path.split(".")
            found |= {c[inner] for c in item.get(outer, []) if isinstance(c, dict)}
        elif path in item:
            found.add(item[path])
    return found


# ------------------------------------------------------------------------------ the walk


ROLES: list[tuple[Role, dict[str, Any]]] = [
    (Role.ADMIN, {}), (Role.ZVS, {}), (Role.FINANCE, {}), (Role.OPS, {}),
    (Role.INTEGRATION, {}), (Role.FACILITY_LEAD, {"facility": True}),
    (Role.CARRIER, {"carrier": True})]


@dataclass
class Walk:
    api: TestClient
    headers: dict[str, str]
    principal: Principal
    own: set[int]  # the tenant's facilities
    can_audit: bool
    leaks: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def get(self, path: str, **params: Any) -> Any:
        return self.api.get(path, params=params, headers=self.headers)


def _values(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}


def _strings(values: dict[str, Any]) -> set[str]:
    """The values a leaked answer would be recognised by (no enums, no short words)."""
    return {v for v in values.values()
            if isinstance(v, str) and not isinstance(v, enum.Enum) and len(v) >= 6}


def _hidden_fields(cls: type[Tracked], role: Role) -> tuple[set[str], set[str]]:
    """(fields the role must not get at all, fields it gets only masked)."""
    sensitive = cls.__sensitive__
    omitted, masked = set(), set()
    for name, kind in sensitive.items():
        if may_reveal(role, kind):
            continue
        (omitted if role in TENANTS and kind in OMIT_FOR_TENANTS else masked).add(name)
    if role in TENANTS and policy_for(cls).tenant_fields is not None:
        omitted |= {c.key for c in cls.__mapper__.column_attrs} - policy_for(cls).tenant_fields
    return omitted, masked


def _check_fields(walk: Walk, where: str, cls: type[Tracked], row: dict[str, Any],
                  shown: dict[str, Any], text: str) -> None:
    role = walk.principal.role
    omitted, masked = _hidden_fields(cls, role)
    for name in omitted & set(shown):
        walk.leaks.append(f"{where}: omitted field {name!r} present")
    for name in masked:
        clear = row.get(name)
        if name in shown and shown[name] not in (None, MASK):
            walk.leaks.append(f"{where}: masked field {name!r} shows {shown[name]!r}")
        if isinstance(clear, str) and len(clear) >= 4 and clear in text:
            walk.leaks.append(f"{where}: clear value of masked field {name!r} in the answer")
    if cls is Application and role in TENANTS:
        for name in ROUTING_FIELDS:
            if name == "current_facility_id" and shown.get(name) not in (None, *walk.own):
                walk.leaks.append(f"{where}: routing state {name} = {shown[name]} (R4)")
        if row["current_facility_id"] not in walk.own and shown.get("review_due_on"):
            walk.leaks.append(f"{where}: review date of another facility's review (R4)")


def _walk_record(walk: Walk, table: str, cls: type[Tracked], row: dict[str, Any],
                 visible: bool, secrets: set[str]) -> None:
    """Every route that can return the record: no trace of it if it is out of the role's
    rows; it, masked as its route masks it, if it is in them."""
    rid, on = row["id"], today().isoformat()
    where = f"{walk.principal.role}/{table}#{rid}"
    readable = visible and may_read(walk.principal, cls)
    answers: list[tuple[str, Any]] = []

    history = walk.get(f"{API}/history/{table}/{rid}", on=on)
    answers.append(("history", history))
    if history.status_code == 200:
        if not readable:
            walk.leaks.append(f"{where}: history answered 200 {history.text[:120]}")
        else:
            _check_fields(walk, f"{where} history", cls, row, history.json()["values"],
                          history.text)
    elif readable:
        walk.misses.append(f"{where}: history {history.status_code}")

    audit = walk.get(f"{API}/audit", entity=table, entity_id=rid)
    answers.append(("audit", audit))
    if audit.status_code == 200:
        events = audit.json()["items"]
        if events and not readable:
            walk.leaks.append(f"{where}: {len(events)} audit rows")
        for ev in events:
            after = {k: v[1] for k, v in ev["changes"].items()}
            _check_fields(walk, f"{where} audit", cls, row, after, audit.text)
        if readable and not events:
            walk.misses.append(f"{where}: no audit rows")
    elif readable and walk.can_audit:
        walk.misses.append(f"{where}: audit {audit.status_code}")

    for path in ENTITY_ROUTES.get(table, lambda _r: [])(row):
        answer = walk.get(path)
        answers.append((path, answer))
        if answer.status_code != 200:
            if readable:
                walk.misses.append(f"{where}: {path} {answer.status_code}")
        elif not visible:
            walk.leaks.append(f"{where}: {path} answered 200")
        elif table != "family_file":  # the file route answers the file, keyed by family
            _check_fields(walk, f"{where} {path}", cls, row, answer.json(), answer.text)

    listing, id_key = LIST_ROUTES.get(table, (lambda _r: [], "id"))
    for path in listing(row):
        answer = walk.get(path)
        answers.append((path, answer))
        if answer.status_code != 200:
            continue
        listed = rid in _ids(answer.json(), id_key)
        if listed and not visible:
            walk.leaks.append(f"{where}: listed by {path}")
    for route, answer in answers:
        leaked = sorted(s for s in secrets if s in answer.text)
        if leaked:
            walk.leaks.append(f"{where}: {route} carries values of hidden records {leaked}")


def _principal(role: Role, world: World, opts: dict[str, Any]) -> Principal:
    return Principal(name=f"matrix-{role}", role=role,
                     facility_id=world.a.facility if opts.get("facility") else None,
                     carrier_id=world.a.carrier if opts.get("carrier") else None)


def _rows_and_scope(engine: Engine, principal: Principal
                    ) -> dict[str, list[tuple[dict[str, Any], bool]]]:
    """Every record of every tracked entity, and whether the policy puts it in the role's
    rows (read as the system, so the walk compares routes against the table)."""
    out: dict[str, list[tuple[dict[str, Any], bool]]] = {}
    scope = Scope(principal)
    with work(engine) as s:
        for table, cls in TRACKED.items():
            allowed = set(s.scalars(select(cls.id).where(criterion(cls, scope))))
            out[table] = [(_values(obj), obj.id in allowed)
                          for obj in s.scalars(select(cls).order_by(cls.id))]
    return out


@pytest.mark.parametrize(("role", "opts"), ROLES, ids=[str(r) for r, _o in ROLES])
def test_no_route_leaks_a_record_outside_the_role_scope(engine, role, opts):
    """Issue 12 item 1 / must-have 1 (data-protection §3, §7, M3, M8): entity route, lists,
    history and audit of every tracked entity × this role (bound to tenant A) × every
    record; hidden records never come back and visible ones do, masked as their route
    masks them (rank and routing state omitted for tenants, R4)."""
    world = build(engine)
    principal = _principal(role, world, opts)
    headers = key(engine, role, facility_id=principal.facility_id,
                  carrier_id=principal.carrier_id)
    own = ({world.a.facility} if role in TENANTS else set())
    walk = Walk(client(engine), headers, principal, own, principal.can(Permission.AUDIT_READ))
    records = _rows_and_scope(engine, principal)
    seen = [_strings(r) for rows in records.values() for r, visible in rows if visible]
    shown = set().union(*seen) if seen else set()
    secrets = {v for rows in records.values() for r, visible in rows if not visible
               for v in _strings(r)} - shown
    _assert_table_hides_tenant_b(world, role, records)
    for table, rows in records.items():
        for row, visible in rows:
            _walk_record(walk, table, TRACKED[table], row, visible, secrets)
    assert walk.leaks == [], "\n".join(walk.leaks)
    assert walk.misses == [], "positive control failed:\n" + "\n".join(walk.misses)
    if role in TENANTS:  # the positive control covered the tenant's own records
        assert any(v for r, v in records["child"]) and any(v for r, v in records["application"])


def _assert_table_hides_tenant_b(world: World, role: Role,
                                 records: dict[str, list[tuple[dict[str, Any], bool]]]) -> None:
    """Hand-written expectations the generated cases rest on (so a permissive table
    cannot make the walk pass): tenant B's personal, fee, bank and e-file records are
    outside tenant A's rows; technical roles see no personal data; bank data only for the
    fee office and the carrier concerned; API keys for administrators only."""
    visible = {t: {r["id"] for r, v in rows if v} for t, rows in records.items()}
    if role in TENANTS:
        for table, ids in world.b.records.items():
            assert not ids & visible[table], f"{role} sees tenant B's {table}"
        for table in ("fee_fact", "fee_sibling_link", "arrears_case", "family_file",
                      "preference", "fee_statute", "document_template"):
            assert not visible[table], f"{role} sees {table}"
    if role in (Role.OPS, Role.INTEGRATION):
        assert all(not ids for t, ids in visible.items() if t not in MASTER - {"childminder"})
    if role != Role.ADMIN:
        assert not visible["api_key"]
    if role in (Role.ZVS, Role.FACILITY_LEAD, Role.OPS, Role.INTEGRATION):
        assert not visible["payment_setup"]
    if role == Role.FINANCE:
        assert visible["payment_setup"] == world.b.records["payment_setup"]
    if role == Role.CARRIER:
        assert visible["payment_setup"] == world.a.records["payment_setup"]


def test_history_of_a_routed_application_hides_where_it_went(engine):
    """Issue 12 observed hole / R4: GET /history/application/{id} showed a facility lead the
    next preference an application had been routed to; now it shows what her placement
    view shows (no rank, no routing state outside her facility)."""
    world = build(engine)
    api = client(engine)
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.a.facility)
    routed = world.a.routed
    answer = api.get(f"{API}/history/application/{routed}", params={"on": today().isoformat()},
                     headers=lead)
    assert answer.status_code == 200, answer.text
    values = answer.json()["values"]
    assert values["current_facility_id"] is None and values["review_due_on"] is None
    assert set(values) <= TENANT_APPLICATION_FIELDS
    assert "current_rank" not in json.dumps(values) and "remark" not in values
    route = api.get(f"{API}/placement/applications/{routed}", headers=lead).json()
    same = {k: route[k] for k in values if k != "daily_hours"}
    assert same == {k: v for k, v in values.items() if k != "daily_hours"}  # the route's view
    assert Decimal(route["daily_hours"]) == Decimal(values["daily_hours"])
