"""Bank and health data encrypted at rest everywhere (issue 12 item 3; data-protection M9).

Threat: whoever gets the database files (a copied SQLite file or its WAL, a backup, a
PostgreSQL dump, an over-privileged DB login) reads childminders' and payers' bank
accounts and children's illnesses in clear; and a carrier key reads every childminder's
IBAN through the API. The tests build a world, then read the raw storage.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, Text, inspect, select, text

from ekita.core import crypto
from ekita.core.access import REVEAL, Principal
from ekita.core.classification import AT_REST, classified_fields
from ekita.core.db.base import Base, utcnow
from ekita.core.db.migrate import alembic_config, upgrade
from ekita.core.db.types import EncryptedText
from ekita.core.demo import loader
from ekita.core.errors import RuleViolation
from ekita.core.models import AuditEvent, Child, Childminder, ChildmindingOffice, PaymentSetup
from ekita.core.models.enums import Role
from ekita.core.models.fees import PaymentMethod
from ekita.core.schemas.fees import PaymentSetupIn
from ekita.core.services import masterdata, people
from ekita.core.services.fees import cases
from ekita.core.tracking import record_as_of
from tests.api import client, key
from tests.conftest import BACKENDS, as_role, database_at, work
from tests.world import build_world

CM_IBANS = ("DE44500105175407324931", "DE02500105170137075030")
PAYER_IBAN = "DE89370400440532013000"
BIC = "COBADEFFXXX"
HOLDER = "Kontoinhaberin Quendolina Sepamann"
HEALTH = ("Zoeliakie-Befund Nr. 4711", "Epilepsie, Notfallmedikament Q17")
CANARY = "Unverschluesselter-Kanarienvogel-93"  # an unclassified remark: must be found


def _office(s) -> int:
    return masterdata.create_office(s, {"name": "BVS-KTP Ost"}).id


def _childminder(s, office: int, n: int, iban: str) -> int:
    return masterdata.create_childminder(s, {
        "office_id": office, "family_name": f"Sommer{n}", "first_name": "Ina",
        "cost_centre": f"TPP-{n}", "stadtteil_nr": "51", "capacity": 5, "iban": iban,
        "remark": CANARY}).id


def build_bank_and_health_world(engine: Engine) -> dict[str, int]:
    """Childminders with IBANs, children with health notes, a payer's payment setup; every
    classified value also changed once, so the change log holds before and after values."""
    world = build_world(engine)
    child = world.children[world.facility_b1][0]
    with work(engine) as s:
        office = _office(s)
        first = _childminder(s, office, 1, "DE02120300000000202051")
        masterdata.update_childminder(s, first, {"iban": CM_IBANS[0]})
        _childminder(s, office, 2, CM_IBANS[1])
        people.update_child(s, child, {"health_notes": HEALTH[0]})
        people.update_child(s, world.children[world.facility_m][0], {"health_notes": HEALTH[1]})
    with work(engine, as_role(Role.FINANCE)) as s:
        cases.set_payment(s, PaymentSetupIn(
            guardian_id=world.guardians[child], payment_method=PaymentMethod.DIRECT_DEBIT,
            iban=PAYER_IBAN, bic=BIC, holder=HOLDER, mandate_reference="M-1",
            mandate_signed_on=date(2020, 1, 1)))
    return {"childminder": first, "child": child, "facility": world.facility_b1,
            "carrier": world.independent}


def _secrets() -> list[str]:
    return [*CM_IBANS, "DE02120300000000202051", PAYER_IBAN, BIC, HOLDER, *HEALTH, "asthma"]


def _sqlite_bytes(engine: Engine) -> bytes:
    path = Path(engine.url.database or "")
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _postgres_text(engine: Engine) -> str:
    """Every row of every table of the schema, as PostgreSQL prints it."""
    with engine.connect() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables "
                                   "WHERE schemaname = current_schema()")).all()
        return "\n".join(row for t in tables
                         for row in conn.scalars(text(f'SELECT t::text FROM "{t}" t')))


def _in_clear(engine: Engine, values: list[str]) -> list[str]:
    if engine.dialect.name == "sqlite":
        raw = _sqlite_bytes(engine)
        return [v for v in values if v.encode() in raw]
    dump = _postgres_text(engine)
    return [v for v in values if v in dump]


def test_no_bank_or_health_value_in_the_raw_database(engine: Engine) -> None:
    """Issue 12 item 3, threat: a stolen database file, WAL or dump shows bank and health
    data. The SQLite main file and its WAL are read as they are, then after a checkpoint;
    on PostgreSQL every row of every table (audit_event, outbox, domain events included).
    The unclassified canary remark is found, so the scan does read where the rows are."""
    build_bank_and_health_world(engine)
    assert _in_clear(engine, _secrets()) == []
    assert _in_clear(engine, [CANARY]) == [CANARY]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        assert _in_clear(engine, _secrets()) == []
        assert _in_clear(engine, [CANARY]) == [CANARY]


def test_values_read_back_in_clear_and_audit_rows_hold_ciphertext(engine: Engine) -> None:
    """Issue 12 item 3: encryption is by declaration, invisible to services: the model
    reads the clear values; the change log holds ciphertext that decrypts to the change,
    and the record as of a date replays it in clear."""
    ids = build_bank_and_health_world(engine)
    with work(engine) as s:
        assert s.get(Childminder, ids["childminder"]).iban == CM_IBANS[0]
        assert s.get(Child, ids["child"]).health_notes == HEALTH[0]
        setup = s.scalars(select(PaymentSetup)).one()
        assert (setup.bic, setup.holder) == (BIC, HOLDER)
        assert crypto.decrypt(setup.iban_encrypted or "") == PAYER_IBAN
        update = s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "childminder", AuditEvent.action == "update")).one()
        before, after = update.changes["iban"]
        assert before != "DE02120300000000202051" and after != CM_IBANS[0]
        assert [crypto.decrypt(before), crypto.decrypt(after)] == [
            "DE02120300000000202051", CM_IBANS[0]]
        state = record_as_of(s, Childminder, ids["childminder"], date(2999, 1, 1))
        assert state is not None and state["iban"] == CM_IBANS[0]


def test_every_bank_and_health_field_is_encrypted_by_its_column_type() -> None:
    """Issue 12 item 3: the classification (``ekita.core.classification``) lists the bank
    and health fields through their ``__sensitive__`` class; each is ``EncryptedText`` (or
    the service-encrypted ``iban_encrypted``), so a new classified field cannot be stored
    in clear by forgetting a call."""
    fields = {(f.table, f.field): f.category for f in classified_fields()}
    assert fields == {("child", "health_notes"): "health", ("childminder", "iban"): "bank",
                      ("payment_setup", "bic"): "bank", ("payment_setup", "holder"): "bank",
                      ("payment_setup", "iban_encrypted"): "bank"}
    tables = Base.metadata.tables
    for table, field in fields:
        column = tables[table].c[field]
        assert isinstance(column.type, EncryptedText) or field.endswith("_encrypted"), field
    assert set(AT_REST) <= set(REVEAL)


def test_carriers_do_not_see_childminders_bank_data() -> None:
    """Issue 12 item 3, threat: a carrier key reads every childminder's IBAN. The class
    is revealed to the fee office and administrators only; health to the facility (R6)."""
    assert REVEAL["childminder_bank"] == {Role.FINANCE, Role.ADMIN}
    assert Role.CARRIER not in REVEAL["childminder_bank"]
    assert REVEAL["health"] == {Role.FACILITY_LEAD, Role.CARRIER}


def test_childminder_iban_masked_in_responses_and_audit_for_roles_without_the_right(
        engine: Engine) -> None:
    """Issue 12 item 3: /api/v1/childminders gives a carrier key the IBAN masked, the fee
    office and the administrator in clear; the audit view and the history mask it for the
    ZVS (which reads the audit but has no bank right), the history shows it to the admin."""
    ids = build_bank_and_health_world(engine)
    http = client(engine)
    carrier = http.get("/api/v1/childminders",
                       headers=key(engine, Role.CARRIER, carrier_id=ids["carrier"]))
    assert carrier.status_code in (200, 403)
    assert not any(iban in carrier.text for iban in CM_IBANS)
    if carrier.status_code == 200:
        assert all(item["iban"] == "***" for item in carrier.json()["items"])
    for role in (Role.FINANCE, Role.ADMIN):
        items = http.get("/api/v1/childminders", headers=key(engine, role)).json()["items"]
        assert sorted(item["iban"] for item in items) == sorted(CM_IBANS)
    zvs = key(engine, Role.ZVS)
    audit = http.get("/api/v1/audit", params={"entity": "childminder",
                                              "entity_id": ids["childminder"]}, headers=zvs)
    assert audit.status_code == 200
    assert [row["changes"]["iban"] for row in audit.json()["items"]] == [["***", "***"],
                                                                         [None, "***"]]
    path = f"/api/v1/history/childminder/{ids['childminder']}"
    masked = http.get(path, params={"on": "2999-01-01"}, headers=zvs)
    assert masked.status_code == 200 and CM_IBANS[0] not in masked.text
    shown = http.get(path, params={"on": "2999-01-01"}, headers=key(engine, Role.ADMIN))
    assert shown.status_code == 200 and CM_IBANS[0] in shown.text
    # the audit view opens the ciphertext for a role with the right, never shows a token
    admin_audit = http.get("/api/v1/audit", params={"entity": "childminder",
                                                    "entity_id": ids["childminder"]},
                           headers=key(engine, Role.ADMIN)).json()["items"]
    values = {v for row in admin_audit for v in row["changes"]["iban"] if v is not None}
    assert values & set(CM_IBANS)
    assert all(v.startswith("DE") and len(v) == 22 for v in values)  # IBANs, not tokens


def test_health_notes_masked_for_roles_outside_the_facility(engine: Engine) -> None:
    """Issue 12 item 3 / R6: health notes, encrypted at rest, are still the facility's to
    read; the ZVS gets them masked in the child and in the audit view."""
    ids = build_bank_and_health_world(engine)
    http = client(engine)
    path = f"/api/v1/children/{ids['child']}"
    zvs = key(engine, Role.ZVS)
    assert http.get(path, headers=zvs).json()["health_notes"] == "***"
    lead = key(engine, Role.FACILITY_LEAD, facility_id=ids["facility"])
    assert http.get(path, headers=lead).json()["health_notes"] == HEALTH[0]
    audit = http.get("/api/v1/audit", params={"entity": "child", "entity_id": ids["child"]},
                     headers=zvs).json()["items"]
    assert all(v in (None, "***") for row in audit for v in row["changes"]["health_notes"])


def test_encrypted_columns_cannot_be_filtered() -> None:
    """Issue 12 item 3: a Fernet token is randomised, so an equality filter would silently
    match nothing; the column refuses it at query-building time (NULL tests stay)."""
    with pytest.raises(TypeError, match="encrypted at rest"):
        select(Childminder).where(Childminder.iban == CM_IBANS[0])
    with pytest.raises(TypeError, match="encrypted at rest"):
        select(Child).where(Child.health_notes.like("%Zoeliakie%"))
    assert "IS NOT NULL" in str(select(Child).where(Child.health_notes.is_not(None)))


def test_without_the_key_one_clear_error_and_nothing_written(engine: Engine) -> None:
    """Issue 12 item 3, threat: a hub started without its data key silently stores health
    data in clear, or shows garbage. Writing is refused with an error naming the setting
    and nothing is half-applied; reading with another key is one clear error too."""
    world = build_world(engine)
    child = world.children[world.facility_m][0]
    run_key = os.environ["EKITA_DATA_KEY"]
    crypto.configure(None)
    with pytest.raises(RuleViolation) as err, work(engine) as s:
        people.update_child(s, child, {"first_name": "Ida", "health_notes": HEALTH[0]})
    assert err.value.field == "data_key" and "EKITA_DATA_KEY" in err.value.message
    crypto.configure(run_key)
    with work(engine) as s:
        stored = s.get(Child, child)
        assert stored is not None and (stored.first_name, stored.health_notes) == (
            "Kind", "asthma")
    crypto.configure(crypto.generate_key())
    with pytest.raises(RuleViolation) as wrong, work(engine) as s:
        s.get(Child, child)
    assert wrong.value.field == "data_key" and "cannot be decrypted" in wrong.value.message
    assert HEALTH[0] not in str(wrong.value) and "asthma" not in str(wrong.value)


def _small_city() -> SimpleNamespace:
    """Two childminders in the loader's city shape (``tables``, ``today``, ``recorded_at``)."""
    office = {"id": 1, "name": "BVS-KTP Nord"}
    minders = [{"id": n, "office_id": 1, "family_name": f"Loader{n}", "first_name": "Ina",
                "cost_centre": f"TPL-{n}", "stadtteil_nr": "51", "capacity": 5,
                "status": "active", "iban": iban, "remark": CANARY}
               for n, iban in enumerate(CM_IBANS, start=1)]
    tables = [(ChildmindingOffice, [office]), (Childminder, minders)]
    return SimpleNamespace(tables=lambda: tables, today=date(2026, 12, 4), recorded_at=utcnow())


def test_demo_loader_writes_ciphertext_on_copy_and_executemany(engine: Engine) -> None:
    """Issue 12 item 3, threat: the demo loader's bulk paths (COPY on PostgreSQL,
    executemany on SQLite) bypass the ORM; they write ciphertext too, in the rows and in
    their audit rows, and the rows read back in clear."""
    loader.load(engine, _small_city())  # type: ignore[arg-type]
    assert _in_clear(engine, list(CM_IBANS)) == []
    assert _in_clear(engine, [CANARY]) == [CANARY]
    with work(engine, Principal.system("test")) as s:
        assert sorted(s.scalars(select(Childminder.iban))) == sorted(CM_IBANS)


# ---------------------------------------------------------------- migration 0011


@pytest.fixture(params=BACKENDS)
def at_0010(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A scratch database migrated to 0010, the revision before encryption at rest."""
    with database_at(request.param, "0010", tmp_path) as eng:
        yield eng


def _legacy_rows(eng: Engine) -> None:
    """Clear values as the hub stored them before 0011, with their audit rows."""
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    rows = [
        ("childminding_office", {"id": 1, "name": "BVS-KTP Ost"}),
        ("childminder", {"id": 1, "office_id": 1, "family_name": "Alt", "first_name": "Ina",
                         "cost_centre": "TPP-1", "stadtteil_nr": "51", "capacity": 5,
                         "status": "active", "iban": CM_IBANS[0]}),
        ("family", {"id": 1, "number": "100001"}),
        ("child", {"id": 1, "family_id": 1, "family_name": "Alt", "first_name": "Kind",
                   "birth_date": date(2022, 1, 1), "sex": "x", "integration_need": False,
                   "excluded_from_count": False, "school_deferred": False,
                   "health_notes": HEALTH[0]}),
        ("guardian", {"id": 1, "family_id": 1, "family_name": "Alt", "first_name": "Elter",
                      "single_parent": False, "notification_channel": "post"}),
        ("payment_setup", {"id": 1, "guardian_id": 1, "payment_method": "DIRECT_DEBIT",
                           "iban_encrypted": crypto.encrypt(PAYER_IBAN), "bic": BIC,
                           "holder": HOLDER}),
    ]
    audit = [("childminder", {"iban": [None, CM_IBANS[0]], "family_name": [None, "Alt"]}),
             ("child", {"health_notes": [HEALTH[1], HEALTH[0]]}),
             ("payment_setup", {"bic": [None, BIC], "holder": [None, HOLDER]})]
    with eng.begin() as conn:
        for name, values in rows:
            table = Table(name, MetaData(), autoload_with=conn)
            conn.execute(table.insert().values({**values, **stamps}))
        log = Table("audit_event", MetaData(), autoload_with=conn)
        conn.execute(log.insert(), [
            {"recorded_at": now, "actor": "legacy", "source": "test", "entity": entity,
             "entity_id": 1, "action": "create", "valid_from": date(2026, 1, 1),
             "changes": changes} for entity, changes in audit])


def test_migration_0011_encrypts_stored_values_and_audit_rows(at_0010: Engine) -> None:
    """Issue 12 item 3, threat: data stored before encryption stays readable in the files.
    Migration 0011 converts the clear values, in the tables and in the change log; the
    models read them back in clear; the downgrade gives the clear values back."""
    _legacy_rows(at_0010)
    assert _in_clear(at_0010, [CM_IBANS[0], HEALTH[0], BIC, HOLDER]) != []
    upgrade(at_0010, "0011")
    if at_0010.dialect.name == "sqlite":
        # Until the next checkpoint the main file still has the old pages (WAL); once the
        # new ones are in, the freed ones hold zeros, not the old rows (secure_delete).
        with at_0010.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _in_clear(at_0010, [CM_IBANS[0], *HEALTH, BIC, HOLDER]) == []
    with work(at_0010) as s:
        assert s.get(Childminder, 1).iban == CM_IBANS[0]
        assert s.get(Child, 1).health_notes == HEALTH[0]
        setup = s.get(PaymentSetup, 1)
        assert (setup.bic, setup.holder) == (BIC, HOLDER)
        assert crypto.decrypt(setup.iban_encrypted or "") == PAYER_IBAN  # left as it was
        changes = s.scalar(select(AuditEvent.changes).where(AuditEvent.entity == "child"))
        assert [crypto.decrypt(v) for v in changes["health_notes"]] == list(HEALTH[::-1])
    columns = {c["name"]: c["type"] for c in inspect(at_0010).get_columns("childminder")}
    assert isinstance(columns["iban"], Text)
    downgrade(at_0010, "0010")
    with at_0010.connect() as conn:
        assert conn.scalar(text("SELECT iban FROM childminder")) == CM_IBANS[0]
        assert conn.scalar(text("SELECT bic FROM payment_setup")) == BIC


def test_migration_0011_without_a_key_stops_with_the_setting_named(at_0010: Engine) -> None:
    """Issue 12 item 3: converting stored values needs the data key; without it the
    upgrade stops with one error naming EKITA_DATA_KEY and changes nothing."""
    _legacy_rows(at_0010)
    crypto.configure(None)
    with pytest.raises(RuleViolation) as err:
        upgrade(at_0010, "0011")
    assert err.value.field == "data_key" and "EKITA_DATA_KEY" in err.value.message
    with at_0010.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0010"
        assert conn.scalar(text("SELECT iban FROM childminder")) == CM_IBANS[0]


def test_migration_0011_on_an_empty_database_needs_no_key(at_0010: Engine) -> None:
    """Issue 12 item 3: a new installation migrates without a data key (nothing to
    convert); the key is only needed once there is data."""
    crypto.configure(None)
    upgrade(at_0010, "0011")
    with at_0010.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0011"


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
