"""The sandbox peer's small resident register, generated from the hub's own data.

A key is (family name, first names, birth date), case-folded. Built from the children in
a database (the demo city) with a few deterministic variations, so the demo shows every
result: most children are registered where the hub says, some moved within Dresden, some
moved away, a few have an information block. ``synthetic`` builds one for the benchmark.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

Key = tuple[str, str, str]
Address = tuple[str, str, str, str]  # street, house number, postcode, city


@dataclass(frozen=True)
class Resident:
    address: Address
    status: str = "registered"  # registered | moved_away | blocked
    moved_on: date | None = None


Register = dict[Key, list[Resident]]


def key_of(family_name: str, first_names: str, birth_date: date | str) -> Key:
    return (family_name.strip().casefold(), first_names.strip().casefold(), str(birth_date))


def norm(address: Address) -> Address:
    street, house_no, postcode, city = (part.strip().casefold() for part in address)
    return (street.replace("str.", "straße"), house_no.replace(" ", ""), postcode, city)


def _bucket(value: int) -> int:
    return int(hashlib.sha256(str(value).encode()).hexdigest()[:8], 16) % 100


def vary(child_id: int, address: Address, on: date) -> Resident:
    """2 % moved away, 3 % moved within Dresden, 1 % information block, else registered."""
    bucket = _bucket(child_id)
    if bucket < 2:
        return Resident(address, "moved_away", on - timedelta(days=30 + bucket))
    if bucket < 5:
        street, house_no, postcode, city = address
        return Resident((street, f"{house_no}b" if house_no else "1", postcode, city))
    if bucket < 6:
        return Resident(address, "blocked")
    return Resident(address)


def from_database(session: Session, on: date) -> Register:
    """One entry per child with an address (its own, else its family's first guardian's)."""
    from ekita.core.models import Child, Guardian

    guardian_address: dict[int, Address] = {}
    for g in session.scalars(select(Guardian).order_by(Guardian.id)):
        if g.street and g.family_id not in guardian_address:
            guardian_address[g.family_id] = (g.street, g.house_no or "", g.postcode or "",
                                             g.town or "Dresden")
    register: Register = {}
    for c in session.scalars(select(Child).order_by(Child.id)):
        address = ((c.street, c.house_no or "", c.postcode or "", c.town or "Dresden")
                   if c.street else guardian_address.get(c.family_id))
        if address is None:
            continue
        register.setdefault(key_of(c.family_name, c.first_name, c.birth_date), []).append(
            vary(c.id, address, on))
    return register


def synthetic(n: int) -> Register:
    """``n`` residents named ``Person<i>`` at ``Teststraße <i>`` (benchmark and tests)."""
    return {key_of(f"Person{i}", "Kim", date(2022, 1, 1)):
            [Resident((f"Teststraße {i % 500}", str(i), "01067", "Dresden"))]
            for i in range(n)}
