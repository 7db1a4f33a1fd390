"""Who is on the health office's monthly list, and with which fields (Lastenheft 3.19).

Children aged 0 to 5 on the reference day with a Kita contract running on that day
(childminding excluded: "Kinder in Kitas"), one row per child, only ``ROW_FIELDS``. One
SELECT joins contract, child and facility, so the list of a whole city is one query.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.models.contracts import CareContract
from ekita.core.models.enums import CareType
from ekita.core.models.facilities import Facility
from ekita.core.models.people import Child
from ekita.core.services.terms import terms_in

#: The fields the health examinations need, and nothing else (data-protection C6).
ROW_FIELDS = ("family_name", "first_name", "birth_date", "sex", "street", "house_no",
              "postcode", "town", "facility_name", "facility_cost_centre", "facility_address",
              "care_type")
#: The personal fields among them: the adapter's allow-list for the outbox.
PERSONAL = frozenset({"family_name", "first_name", "birth_date", "sex", "street", "house_no",
                      "postcode", "town"})


def sixth_birthday_cutoff(as_of: date) -> date:
    """Children born after this day are not yet 6 on ``as_of`` (29 February safe)."""
    try:
        return as_of.replace(year=as_of.year - 6)
    except ValueError:
        return as_of.replace(year=as_of.year - 6, day=28)


def collect(session: Session, as_of: date) -> list[dict[str, Any]]:
    """The rows of the list for the reference day, ordered by facility and name."""
    stmt = (
        select(Child.id, Child.family_name, Child.first_name, Child.birth_date, Child.sex,
               Child.street, Child.house_no, Child.postcode, Child.town, Facility.name,
               Facility.cost_centre, Facility.street, Facility.house_no, Facility.postcode,
               Facility.town, CareContract.care_type, CareContract.id)
        .join(CareContract, CareContract.child_id == Child.id)
        .join(Facility, Facility.id == CareContract.facility_id)
        .where(CareContract.start_date <= as_of,
               (CareContract.end_date.is_(None)) | (CareContract.end_date >= as_of),
               CareContract.care_type != CareType.KINDERTAGESPFLEGE,
               Child.birth_date <= as_of,
               Child.birth_date > sixth_birthday_cutoff(as_of))
        .order_by(Facility.name, Child.family_name, Child.first_name, Child.id,
                  CareContract.start_date.desc())
    )
    found = session.execute(stmt).all()
    # the care type of the term valid on the reference day (issue 13 item 3)
    term_of = {cid: found_terms[0] for cid, found_terms in
               terms_in(session, as_of, as_of, [r[16] for r in found]).items()}
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for r in found:
        care_type = term_of[r[16]].care_type if r[16] in term_of else r[15]
        if care_type == CareType.KINDERTAGESPFLEGE:
            continue
        if r[0] in seen:  # two running contracts: the child is listed once
            continue
        seen.add(r[0])
        rows.append({
            "family_name": r[1], "first_name": r[2], "birth_date": r[3].isoformat(),
            "sex": str(r[4]), "street": r[5] or "", "house_no": r[6] or "",
            "postcode": r[7] or "", "town": r[8] or "", "facility_name": r[9],
            "facility_cost_centre": r[10],
            "facility_address": f"{r[11]} {r[12]}, {r[13]} {r[14]}",
            "care_type": str(care_type),
        })
    return rows
