"""Exports end to end on the database: hostile names in the placement lists over the API
(issue 12 item 4), and names a carrier's code page cannot hold (issue 12 item 11).

Threats: a child's name beginning with ``=`` written as a live formula into the Excel
placement list; one name the export's Windows-1252 cannot hold dead-lettering a carrier's
whole export without naming the record.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from ekita.core.models.enums import CareType, Role
from ekita.core.models.exchange import MessageStatus, OutboxMessage, TransferRecord
from ekita.core.outbox import enqueue
from ekita.core.services import masterdata, people
from ekita.hub.spreadsheets import DANGEROUS_PREFIXES, neutralise
from ekita.plugins.carrier_export import NAME, export_carrier
from ekita.plugins.carrier_export.export import collect, payload_for
from ekita.plugins.carrier_export.formats import parse_csv
from ekita.plugins.carrier_export.profile import load_profile
from tests.api import client, key
from tests.carrier_kit import world_with_recipient
from tests.conftest import work
from tests.exchange_kit import deliver_all, file_worker
from tests.world import add_facility, carrier_data, place_child

HOSTILE_NAMES = [f"{p}HYPERLINK(\"http://x\")" for p in DANGEROUS_PREFIXES] + [
    "=1+1", "@SUM(A1:A9)", "-2+3", "+49 351", "＝1+1"]
DE = load_profile("example-semicolon-de")  # Windows-1252
UNENCODABLE = "Đorđe😀"  # Đ, đ and the emoji are not in Windows-1252


def test_placement_lists_in_excel_never_hold_a_formula(engine) -> None:
    """Issue 12 item 4 (observed: a child's name beginning with '=' became a live formula
    in the Excel placement list): every text cell of the Krippe→Kindergarten and the
    school-entry lists, read back with openpyxl, is a string cell (never data type 'f'),
    neutralised when the name began with a dangerous character; ids and months are number
    cells, birth dates date cells."""
    on = date(2025, 3, 15)
    with work(engine) as s:
        carrier = masterdata.create_carrier(s, carrier_data("Träger")).id
        fid = add_facility(s, carrier, "=Kita Formel", {CareType.KRIPPE: 30,
                                                          CareType.KINDERGARTEN: 30})
        names = {}
        for n, name in enumerate(HOSTILE_NAMES):
            krippe = place_child(s, fid, CareType.KRIPPE, date(2022, 4, 16), n=n,
                                 start=date(2023, 1, 1))
            school = place_child(s, fid, CareType.KINDERGARTEN, date(2019, 3, 1), n=100 + n,
                                 start=date(2023, 1, 1))
            for child in (krippe, school):
                people.update_child(s, child, {"family_name": name, "first_name": name})
                names[child] = name
    headers = key(engine, Role.ZVS)
    for path in ("/lists/kindergarten-switch", "/lists/school-entry"):
        response = client(engine).get(f"/api/v1/placement{path}?on={on}&format=xlsx",
                                      headers=headers)
        assert response.status_code == 200, response.text
        rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows())
        header = [c.value for c in rows[0]]
        assert len(rows) - 1 == len(HOSTILE_NAMES)
        for row in rows[1:]:
            assert all(c.data_type != "f" for c in row)
            cell = dict(zip(header, row, strict=True))
            name = names[cell["child_id"].value]
            assert cell["child_id"].data_type == "n"
            for field in ("family_name", "first_name"):
                assert cell[field].data_type == "s"
                assert cell[field].value == neutralise(name) != name
            assert cell["facility"].value == "'=Kita Formel"
            assert cell["birth_date"].is_date


def _rename_first_child(engine, world, name: str) -> int:
    child = world.children[world.facility_b1][0]
    with work(engine) as s:
        people.update_child(s, child, {"family_name": name, "first_name": "Mila"})
    return child


def _delivered_rows(tmp_path, world) -> list[dict]:
    (path,) = (tmp_path / f"carrier-{world.independent}").glob("*.csv")
    return [row for _, row in parse_csv(path.read_bytes(), DE)]


def test_unencodable_name_is_transliterated_and_reported(engine, tmp_path, caplog) -> None:
    """Issue 12 item 11, profile ``unencodable = "transliterate"`` (the shipped default):
    the name is spelled in Windows-1252 (Đ → D, đ → d, emoji → ?), every record is
    delivered, and the finding names record and field, in the payload and in a log line
    without the name."""
    world = world_with_recipient(engine)
    child = _rename_first_child(engine, world, UNENCODABLE)
    worker = file_worker(engine, NAME, {"drop_dir": str(tmp_path), "profile": DE.name})
    with caplog.at_level(logging.WARNING), work(engine) as s:
        queued, count = export_carrier(s, world.independent, DE, full=True)
    assert count == 4
    deliver_all(worker)
    rows = _delivered_rows(tmp_path, world)
    assert len(rows) == 4 and "Dorde?" in {r["family_name"] for r in rows}
    with work(engine) as s:
        message = s.get(OutboxMessage, queued.id)
        assert message.status == MessageStatus.DELIVERED
        (finding,) = message.payload["encoding_findings"]
        assert s.scalars(select(TransferRecord.record_count)).one() == 4
    assert (finding["child_id"], finding["field"], finding["action"]) == (
        child, "family_name", "transliterated")
    assert finding["record"].startswith("contract ") and "cp1252" in finding["rule"]
    assert "family_name" in caplog.text and UNENCODABLE not in caplog.text
    assert "Dorde" not in caplog.text


def test_unencodable_name_is_quarantined_the_rest_delivered(engine, tmp_path, caplog) -> None:
    """Issue 12 item 11, profile ``unencodable = "quarantine"`` (observed: one name the code
    page could not hold dead-lettered the whole export): that record is left out and
    reported by record, child and field; the three others are delivered and the transfer
    log counts three; nothing is dead-lettered and no log line holds the name."""
    world = world_with_recipient(engine)
    child = _rename_first_child(engine, world, UNENCODABLE)
    strict = DE.model_copy(update={"unencodable": "quarantine"})
    worker = file_worker(engine, NAME, {"drop_dir": str(tmp_path)})
    with work(engine) as s:
        contract = next(r["contract_ref"] for r in collect(s, world.independent)
                        if r["child_id"] == child)
    with caplog.at_level(logging.WARNING), work(engine) as s:
        queued, count = export_carrier(s, world.independent, strict, full=True)
    assert count == 3
    deliver_all(worker)
    rows = _delivered_rows(tmp_path, world)
    assert len(rows) == 3 and all(r["contract_ref"] != contract for r in rows)
    with work(engine) as s:
        message = s.get(OutboxMessage, queued.id)
        assert message.status == MessageStatus.DELIVERED and message.record_count == 3
        assert message.payload["encoding_findings"] == [{
            "record": f"contract {contract}", "child_id": child, "field": "family_name",
            "action": "left out",
            "rule": "profile example-semicolon-de: encoding cp1252, unencodable = quarantine"}]
        assert s.scalars(select(TransferRecord.record_count)).one() == 3
    assert f"contract {contract}" in caplog.text and UNENCODABLE not in caplog.text


@pytest.mark.parametrize("policy", ["transliterate", "quarantine"])
def test_a_queued_export_with_an_unencodable_name_is_still_delivered(engine, tmp_path,
                                                                       policy) -> None:
    """Issue 12 item 11: a message queued before the check (or rendered with another
    profile) is fitted again when delivered: delivered, not dead-lettered."""
    world = world_with_recipient(engine)
    _rename_first_child(engine, world, UNENCODABLE)
    profile = DE.model_copy(update={"unencodable": policy})
    worker = file_worker(engine, NAME, {"drop_dir": str(tmp_path)})
    with work(engine) as s:
        rows = collect(s, world.independent)
        payload = payload_for(world.independent, "full", 1, 0, profile.name, rows)
        payload["profile_definition"] = profile.model_dump()
        queued = enqueue(s, adapter=NAME, operation="export", business_key="old",
                         payload=payload, record_count=len(rows))
    deliver_all(worker)
    with work(engine) as s:
        assert s.get(OutboxMessage, queued.id).status == MessageStatus.DELIVERED
    delivered = _delivered_rows(tmp_path, world)
    assert len(delivered) == (4 if policy == "transliterate" else 3)
    (path,) = (tmp_path / f"carrier-{world.independent}").glob("*.csv")
    cells = list(csv.reader(io.StringIO(path.read_bytes().decode("cp1252"), newline=""),
                            delimiter=";"))
    assert all(not c.startswith(DANGEROUS_PREFIXES) for row in cells[2:] for c in row)
