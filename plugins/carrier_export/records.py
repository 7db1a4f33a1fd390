"""The canonical carrier record: one flat row per contract or placed application.

Every format (hub XML, CSV profiles, Excel) reads and writes these rows, so a format is
only a mapping. In the outbox the row travels nested (``nest``): personal fields keep
their hub names there, so the hub's allow-list check sees every one of them
(data-protection M6); ``flatten`` turns it back into a row for rendering.
"""

from __future__ import annotations

from typing import Any

CHILD_FIELDS = ("pkn", "family_name", "first_name", "birth_date", "sex", "street", "house_no",
                "postcode", "town")
GUARDIAN_SLOTS = 2
FIELDS = (
    "record_type", "contract_ref", *CHILD_FIELDS,
    "guardian1_family_name", "guardian1_first_name",
    "guardian2_family_name", "guardian2_first_name",
    "facility", "care_type", "start_date", "end_date", "daily_hours",
)
DATE_FIELDS = frozenset({"birth_date", "start_date", "end_date"})
DECIMAL_FIELDS = frozenset({"daily_hours"})
#: What an import row must carry (the business key of child and contract).
REQUIRED = ("family_name", "first_name", "birth_date", "facility", "care_type", "start_date",
            "daily_hours")
RECORD_TYPES = ("contract", "application")
#: Personal fields the carrier receives (the adapter's allow-list).
PERSONAL = frozenset({"pkn", "family_name", "first_name", "birth_date", "sex", "street",
                      "house_no", "postcode", "town"})


def pack(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The outbox form of the rows: column-oriented, grouped as child, guardians and
    contract. Personal fields keep their hub names as keys, so the outbox's allow-list
    check sees every one of them (data-protection M6); columns keep the payload small."""
    def column(field: str) -> list[Any]:
        return [r.get(field) for r in rows]

    return {
        "count": len(rows),
        "child": {f: column(f) for f in CHILD_FIELDS},
        "guardians": [{"family_name": column(f"guardian{slot}_family_name"),
                       "first_name": column(f"guardian{slot}_first_name")}
                      for slot in range(1, GUARDIAN_SLOTS + 1)],
        "contract": {f: column(f) for f in FIELDS if f not in CHILD_FIELDS
                     and not f.startswith("guardian")},
    }


def unpack(packed: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat rows of an outbox payload (inverse of ``pack``)."""
    columns: dict[str, list[Any]] = {**packed["child"], **packed["contract"]}
    for slot, guardian in enumerate(packed["guardians"], start=1):
        columns[f"guardian{slot}_family_name"] = guardian["family_name"]
        columns[f"guardian{slot}_first_name"] = guardian["first_name"]
    names = [f for f in FIELDS if f in columns]
    return [dict(zip(names, values, strict=True))
            for values in zip(*(columns[f] for f in names), strict=True)]
