"""A deterministic, Dresden-sized demo city and its bulk loader (Lastenheft 4.1 "Mengengerüst").

``generate`` builds the city as plain row dicts with explicit ids: one municipal
Eigenbetrieb and about 60 independent carriers, 337 facilities over all 64
Stadtteile (14 Krippen, 247 Kitas, 76 Horte) with 7,250 / 18,500 / 16,350 places,
3 BVS-KTP offices with 341 childminders and 1,650 places, and the families,
children, guardians and contracts that fill about 95 % of those places. The same
seed always gives the same city: only ``random.Random(seed)`` and the ``today``
argument are used, never the clock or the global RNG.

``load`` writes the city in one transaction, with SQLAlchemy Core ``executemany``
(``COPY`` on PostgreSQL, see ``load``), and adds the ``AuditEvent`` create row the
ORM hook (``ekita.core.tracking``) would have written for each record, so history
and audit views work on demo data. ``summary`` and ``totals`` report places,
contracts and occupancy with SQL aggregation.
"""

from ekita.core.demo.city import (
    BATCH_SIZE,
    DEFAULT_SEED,
    DEFAULT_TODAY,
    TARGET_PLACES,
    DemoCity,
    Progress,
    age_years,
    care_group,
    generate,
)
from ekita.core.demo.loader import audit_events, load, stamped
from ekita.core.demo.report import summary, totals

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_SEED",
    "DEFAULT_TODAY",
    "TARGET_PLACES",
    "DemoCity",
    "Progress",
    "age_years",
    "audit_events",
    "care_group",
    "generate",
    "load",
    "stamped",
    "summary",
    "totals",
]
