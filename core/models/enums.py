"""Code lists of the domain (data-model.md §4, Anlage L)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class CarrierCategory(StrEnum):
    """Municipal Eigenbetrieb (EB Kita) or an independent (free) carrier (3.14.1.4)."""

    MUNICIPAL = "municipal"
    INDEPENDENT = "independent"


class CarrierType(StrEnum):
    """Federal statistics 'Art des Trägers' (Anlage L, KJH-Statistik III.1, field A)."""

    JUGENDAMT = "01"
    LANDESJUGENDAMT = "02"
    OBERSTE_LANDESJUGENDBEHOERDE = "03"
    GEMEINDE_OHNE_JUGENDAMT = "04"
    ARBEITERWOHLFAHRT = "05"
    PARITAETISCHER = "06"
    ROTES_KREUZ = "07"
    DIAKONIE = "08"
    CARITAS = "09"
    JUEDISCHE_GEMEINDE = "10"
    SONSTIGE_RELIGIONSGEMEINSCHAFT = "11"
    JUGENDVERBAND = "12"
    SONSTIGE_JURISTISCHE_PERSON = "13"
    BETRIEBSTEIL = "14"
    PRIVAT_GEWERBLICH = "15"


class LegalForm(StrEnum):
    """Federal statistics 'Rechtsform des Trägers' (Anlage L, field B)."""

    NATUERLICHE_PERSON = "01"
    GEMEINNUETZIGER_VEREIN = "02"
    NICHT_GEMEINNUETZIGER_VEREIN = "03"
    GGMBH = "04"
    GENOSSENSCHAFT = "05"
    STIFTUNG = "06"
    EIGENBETRIEB = "07"
    PERSONENGESELLSCHAFT = "08"
    JURISTISCHE_PERSON_PRIVATRECHT = "09"
    JURISTISCHE_PERSON_OEFFENTLICHES_RECHT = "10"
    AUSLAENDISCHE_RECHTSFORM = "11"


class CareType(StrEnum):
    """Care types a facility offers (3.7.1.1, data-model.md §4)."""

    KRIPPE = "krippe"
    KINDERGARTEN = "kindergarten"
    HORT = "hort"
    INTEGRATION_KRIPPE = "integration_krippe"
    INTEGRATION_KINDERGARTEN = "integration_kindergarten"
    INTEGRATION_HORT = "integration_hort"
    HEILPAEDAGOGISCH = "heilpaedagogisch"
    KINDERTAGESPFLEGE = "kindertagespflege"

    @property
    def tier_range(self) -> tuple[Decimal, Decimal]:
        """Allowed daily hours (Anlage B §4): Hort 5–11 h, childminding 4.5–11 h
        (10 and 11 only in single cases), every other care type 4.5–11 h."""
        if self in (CareType.HORT, CareType.INTEGRATION_HORT):
            return Decimal("5"), Decimal("11")
        return Decimal("4.5"), Decimal("11")


FACILITY_CARE_TYPES = frozenset(CareType) - {CareType.KINDERTAGESPFLEGE}


class FacilityStatus(StrEnum):
    OPEN = "open"
    TEMPORARILY_CLOSED = "temporarily_closed"
    CLOSED = "closed"


class Sex(StrEnum):
    FEMALE = "f"
    MALE = "m"
    DIVERSE = "d"
    UNKNOWN = "x"


class CustodyKind(StrEnum):
    """How a guardian holds custody (Anlage I; 002 Berechnungsbogen)."""

    JOINT = "joint"
    SOLE = "sole"
    GUARDIANSHIP = "guardianship"


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


class ContactVisibility(StrEnum):
    """Who may see a guardian's phone number or e-mail (3.14.1.3, data-protection R7)."""

    EMERGENCY = "emergency"  # only the facility
    ADMINISTRATIVE = "administrative"  # carrier and EB Kita for administrative queries


class PayerKind(StrEnum):
    """Payment route of the paying guardian (3.6.7.1)."""

    DIRECT_DEBIT = "direct_debit"  # Abbucher
    SELF_PAYER = "self_payer"  # Selbsteinzahler


class NotificationChannel(StrEnum):
    EMAIL = "email"
    POST = "post"


class Role(StrEnum):
    """Roles of API keys (3.15.2, data-protection.md §3)."""

    ADMIN = "admin"
    ZVS = "zvs"
    FACILITY_LEAD = "facility_lead"
    CARRIER = "carrier"
    FINANCE = "finance"
    OPS = "ops"
    INTEGRATION = "integration"
