"""Generating the demo city: plain row dicts with explicit ids, from a seed alone."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from importlib import resources
from itertools import accumulate
from typing import Any

from ekita.core.db.base import Base
from ekita.core.models import (
    CareContract,
    CareOffer,
    Carrier,
    Child,
    ChildGuardian,
    Childminder,
    ChildmindingOffice,
    Facility,
    Family,
    Guardian,
    GuardianContact,
    Pkn,
)
from ekita.core.models.enums import (
    CareType,
    CarrierCategory,
    CarrierType,
    ContactKind,
    ContactVisibility,
    CustodyKind,
    FacilityStatus,
    LegalForm,
    NotificationChannel,
    PayerKind,
    Sex,
)

DEFAULT_SEED = 2027
# The demo's business date: fixed, so the same seed gives the same city on any day.
DEFAULT_TODAY = date(2026, 11, 1)
BATCH_SIZE = 5_000
ACTOR = "demo"
SOURCE = "demo"

# Lastenheft 4.1: places per care group (integration places count to their group).
TARGET_PLACES: dict[str, int] = {
    "krippe": 7_250,
    "kindergarten": 18_500,
    "hort": 16_350,
    "kindertagespflege": 1_650,
}
FACILITY_MIX = {"krippe": 14, "kita": 247, "hort": 76}  # Lastenheft 4.1: 337 facilities
MUNICIPAL_MIX = {"krippe": 4, "kita": 92, "hort": 56}  # ≈ 45 % municipal (volumes.md §4)
CHILDMINDERS = 341  # Lastenheft 4.1
OCCUPANCY_PERCENT = 95
# Current capacities are valid from 1 January six years before ``today`` (2020-01-01
# for the default date), older ones from five years before that; both precede every
# contract start, so the city fits any ``today``.
OFFER_YEARS_BACK = 6

CARE_GROUPS = {
    CareType.KRIPPE: "krippe",
    CareType.INTEGRATION_KRIPPE: "krippe",
    CareType.KINDERGARTEN: "kindergarten",
    CareType.INTEGRATION_KINDERGARTEN: "kindergarten",
    CareType.HEILPAEDAGOGISCH: "kindergarten",
    CareType.HORT: "hort",
    CareType.INTEGRATION_HORT: "hort",
    CareType.KINDERTAGESPFLEGE: "kindertagespflege",
}
_INTEGRATION = {
    CareType.KRIPPE: CareType.INTEGRATION_KRIPPE,
    CareType.KINDERGARTEN: CareType.INTEGRATION_KINDERGARTEN,
    CareType.HORT: CareType.INTEGRATION_HORT,
}
_OFFER_CODE = {
    CareType.KRIPPE: "10",
    CareType.INTEGRATION_KRIPPE: "11",
    CareType.KINDERGARTEN: "20",
    CareType.INTEGRATION_KINDERGARTEN: "21",
    CareType.HORT: "30",
    CareType.INTEGRATION_HORT: "31",
}

# Daily-hours tiers (Anlage B §4) with weights: Hort mostly 5 or 6 hours.
_TIERS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "krippe": (("4.5", "6", "7", "8", "9", "10"), (8, 14, 15, 19, 33, 11)),
    "kindergarten": (("4.5", "6", "7", "8", "9", "10"), (7, 13, 15, 20, 34, 11)),
    "hort": (("5", "6", "7"), (58, 38, 4)),
    "kindertagespflege": (("4.5", "6", "7", "8", "9", "10"), (8, 16, 17, 22, 34, 3)),
}
_HOURS = {tier: Decimal(tier) for tiers, _ in _TIERS.values() for tier in tiers}
_TIER_CUMULATIVE = {group: list(accumulate(weights)) for group, (_, weights) in _TIERS.items()}


def _listing(text: str) -> tuple[str, ...]:
    """A comma-separated word list (keeps the long name lists compact)."""
    return tuple(" ".join(item.split()) for item in text.split(",") if item.strip())


_FEMALE = _listing(
    """
    Anna, Emma, Mia, Hanna, Lena, Marie, Sophie, Lea, Clara, Greta, Frieda, Ida, Lina, Mila,
    Paula, Johanna, Charlotte, Luise, Emilia, Ella, Nele, Maja, Leni, Romy, Katharina,
    Susanne, Julia, Sandra, Franziska, Christin, Anja, Nadine, Stefanie, Claudia, Melanie,
    Kristin
    """
)
_MALE = _listing(
    """
    Paul, Ben, Leon, Noah, Felix, Emil, Anton, Oskar, Jonas, Elias, Theo, Karl, Max, Moritz,
    Jakob, Friedrich, Henri, Luis, Finn, Mats, Ole, Piet, Tom, Lukas, Stefan, Thomas, Michael,
    Sebastian, Daniel, Martin, Christian, Tobias, Robert, Sven, Matthias, Andreas
    """
)
_SURNAMES = _listing(
    """
    Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Hoffmann, Koch,
    Richter, Klein, Wolf, Schröder, Neumann, Schwarz, Braun, Zimmermann, Krüger, Hartmann,
    Lange, Werner, Krause, Lehmann, Schulze, Köhler, Herrmann, König, Walter, Kaiser, Fuchs,
    Scholz, Möller, Weiß, Jung, Hahn, Schubert, Vogel, Friedrich, Günther, Frank, Berger,
    Winkler, Lorenz, Baumann, Franke, Albrecht, Ludwig, Böhme, Seidel, Kretzschmar, Heinrich,
    Pohl, Thiele, Engel, Lindner, Haase, Voigt, Ulbrich, Kühn, Rudolph, Hempel, Zschoche
    """
)
_STREETS = _listing(
    """
    Lindenstraße, Schulstraße, Gartenstraße, Bergstraße, Ahornweg, Birkenweg, Am Wiesengrund,
    Wiesenweg, Rosenstraße, Kastanienallee, Mühlenweg, Am Anger, Feldstraße, Parkstraße,
    Waldstraße, Lerchenweg, Eichendorffstraße, Hainstraße, Friedensstraße, Ringstraße,
    Kirchweg, Am Elbufer, Weinbergstraße, Talstraße, Sonnenweg, Fliederweg, Tulpenweg, Am
    Hang, Brunnenstraße, Marktstraße, Querstraße, Auenweg, Amselweg, Finkenweg, Meisenweg,
    Heideweg, Am Lehmberg, Pappelallee, Kirschallee, Am Steinbruch
    """
)
_THEMES = _listing(
    """
    Sonnenschein, Regenbogen, Pusteblume, Spatzennest, Zwergenland, Löwenzahn, Kleine
    Strolche, Elbpiraten, Wirbelwind, Sternschnuppe, Schatzkiste, Kinderinsel, Mäusenest,
    Sonnenblume, Apfelbaum, Lindenhof, Waldwichtel, Glückskäfer, Purzelbaum, Wundertüte,
    Flohkiste, Sausewind, Kunterbunt, Abenteuerland, Traumzauberbaum, Marienkäfer,
    Räuberhöhle, Fuchsbau, Eulennest, Biberburg, Seepferdchen, Rappelkiste, Buddelkiste,
    Knirpsenland, Wolkenschloss, Elbwiesen, Entdeckerland, Farbklecks, Zauberwald, Bärenhöhle
    """
)
_REGIONS = _listing(
    """
    Elbtal, Elbaue, Elbhang, Weißeritz, Lößnitz, Oberelbe, Osterzgebirge, Heidebogen, Elbland,
    Dresdner Land
    """
)
_SAINTS = _listing("Martin, Benno, Josef, Elisabeth, Hubertus, Antonius, Franziskus")
_PROFILES = _listing(
    """
    Situationsansatz, Montessori-Pädagogik, Reggio-Pädagogik, Waldorfpädagogik, offene Arbeit,
    Kneipp-Konzept, bilingual (deutsch-englisch), naturnahe Pädagogik, Bewegungskita,
    musikalische Früherziehung
    """
)
_EMPLOYERS = _listing(
    """
    Elbtal Halbleiter GmbH, Sächsische Präzisionsoptik AG, Stadtwerke Elbaue GmbH,
    Forschungsinstitut Elbhang e.V., Verkehrsbetriebe Oberelbe AG
    """
)

# Relative facility density per Stadtteil (default 5; the forest, the airport zone and
# the barracks area get few). Every Stadtteil gets at least one facility anyway.
_DENSITY = {
    nr: weight
    for weight, numbers in (
        (9, "06 11 71 72 95 96"),
        (8, "07 21 25 52 53 61 83 86 91 92 97"),
        (3, "14"),
        (2, "15"),
        (1, "33 34 44"),
    )
    for nr in numbers.split()
}
_ORTSCHAFT_DENSITY = 3
_OFFICE_AREAS = (
    (
        "Nord",
        "Königsbrücker Straße",
        (
            "Neustadt",
            "Pieschen",
            "Klotzsche",
            "Weixdorf",
            "Langebrück|Schönborn",
            "Loschwitz",
            "Schönfeld-Weißig",
        ),
    ),
    ("Süd-Ost", "Bodenbacher Straße", ("Altstadt", "Blasewitz", "Leuben", "Prohlis")),
    (
        "West",
        "Kesselsdorfer Straße",
        ("Plauen", "Cotta", "Cossebaude|Mobschatz|Oberwartha", "Gompitz|Altfranken"),
    ),
)


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of independent carrier: statistics codes, how many, how many facilities."""

    key: str
    carrier_type: CarrierType
    legal_form: LegalForm
    count: int
    weight: int  # share of the facilities beyond each carrier's first
    runs_horte: bool


_T, _L = CarrierType, LegalForm
_CARRIER_KINDS = (
    _Kind("awo", _T.ARBEITERWOHLFAHRT, _L.GGMBH, 3, 8, True),
    _Kind("pari_verein", _T.PARITAETISCHER, _L.GEMEINNUETZIGER_VEREIN, 10, 3, False),
    _Kind("pari_ggmbh", _T.PARITAETISCHER, _L.GGMBH, 5, 6, True),
    _Kind("drk", _T.ROTES_KREUZ, _L.GEMEINNUETZIGER_VEREIN, 2, 5, True),
    _Kind("diakonie", _T.DIAKONIE, _L.GGMBH, 3, 6, True),
    _Kind("caritas", _T.CARITAS, _L.GGMBH, 2, 5, True),
    _Kind("ev_parish", _T.DIAKONIE, _L.JURISTISCHE_PERSON_OEFFENTLICHES_RECHT, 5, 1, False),
    _Kind("rk_parish", _T.CARITAS, _L.JURISTISCHE_PERSON_OEFFENTLICHES_RECHT, 3, 1, False),
    _Kind("initiative", _T.SONSTIGE_JURISTISCHE_PERSON, _L.GEMEINNUETZIGER_VEREIN, 15, 0, False),
    _Kind("ggmbh", _T.SONSTIGE_JURISTISCHE_PERSON, _L.GGMBH, 6, 5, True),
    _Kind("private_ggmbh", _T.PRIVAT_GEWERBLICH, _L.GGMBH, 2, 3, False),
    _Kind("private", _T.PRIVAT_GEWERBLICH, _L.JURISTISCHE_PERSON_PRIVATRECHT, 4, 2, False),
)

Row = dict[str, Any]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoCity:
    """The generated rows, per table, with explicit ids; lists are in FK-safe order."""

    seed: int
    today: date
    recorded_at: datetime
    carriers: list[Row] = field(default_factory=list)
    childminding_offices: list[Row] = field(default_factory=list)
    facilities: list[Row] = field(default_factory=list)
    care_offers: list[Row] = field(default_factory=list)
    childminders: list[Row] = field(default_factory=list)
    families: list[Row] = field(default_factory=list)
    children: list[Row] = field(default_factory=list)
    pkns: list[Row] = field(default_factory=list)
    guardians: list[Row] = field(default_factory=list)
    guardian_contacts: list[Row] = field(default_factory=list)
    child_guardians: list[Row] = field(default_factory=list)
    care_contracts: list[Row] = field(default_factory=list)

    def tables(self) -> list[tuple[type[Base], list[Row]]]:
        """Model and rows per table, parents before children (the insert order)."""
        return [
            (Carrier, self.carriers),
            (ChildmindingOffice, self.childminding_offices),
            (Facility, self.facilities),
            (CareOffer, self.care_offers),
            (Childminder, self.childminders),
            (Family, self.families),
            (Child, self.children),
            (Pkn, self.pkns),
            (Guardian, self.guardians),
            (GuardianContact, self.guardian_contacts),
            (ChildGuardian, self.child_guardians),
            (CareContract, self.care_contracts),
        ]

    def counts(self) -> dict[str, int]:
        return {model.__tablename__: len(rows) for model, rows in self.tables()}

    def places(self) -> dict[str, int]:
        """Places valid at ``today`` per care group (childminding: childminder capacity)."""
        out = dict.fromkeys(TARGET_PLACES, 0)
        for offer in self.care_offers:
            if _valid(offer["valid_from"], offer["valid_to"], self.today):
                out[care_group(offer["care_type"])] += offer["approved_places"]
        out["kindertagespflege"] = sum(m["capacity"] for m in self.childminders)
        return out


# ---------------------------------------------------------------- small helpers


class _Random(random.Random):
    """``random.Random`` with one-call ``randint`` and ``choice``: the generator draws
    ~500,000 of them and the stock versions dominate its run time. Still seeded only."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.random() * len(seq))]


def care_group(care_type: CareType | str) -> str:
    """Krippe, Kindergarten, Hort or Kindertagespflege: the groups of Lastenheft 4.1."""
    return CARE_GROUPS[care_type]  # a StrEnum member and its value hash alike


def age_years(birth: date, on: date) -> int:
    """Completed years of life on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _valid(valid_from: date, valid_to: date | None, on: date) -> bool:
    return valid_from <= on and (valid_to is None or valid_to >= on)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _next_first(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _last_first_before(day: date) -> date:
    """The latest first of a month strictly before ``day`` (contracts start in the past)."""
    return day.replace(day=1) if day.day > 1 else (day - timedelta(days=1)).replace(day=1)


def _offer_start(today: date) -> date:
    return date(today.year - OFFER_YEARS_BACK, 1, 1)


def _school_year(today: date) -> int:
    """Year in which the running school year started (1 August)."""
    return today.year if today > date(today.year, 8, 1) else today.year - 1


def _random_date(rng: random.Random, low: date, high: date) -> date:
    return low + timedelta(days=rng.randint(0, (high - low).days))


_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": "-", ".": ""})


def _ascii(name: str) -> str:
    return name.lower().translate(_ASCII)


def _scale(raw: Sequence[int], target: int) -> list[int]:
    """Scale integers to sum exactly to ``target`` (largest remainder, ties by position)."""
    total = sum(raw)
    floors = [r * target // total for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] * target % total), i))
    for i in order[: target - sum(floors)]:
        floors[i] += 1
    return floors


def _filled(places: Sequence[int]) -> list[int]:
    """Occupied places per offer, ~95 % each, with the rounding error carried forward so
    any run of consecutive offers is within one place of exactly 95 %."""
    out, acc, done = [], 0, 0
    for n in places:
        acc += n * OCCUPANCY_PERCENT
        now = (acc + 50) // 100
        out.append(now - done)
        done = now
    return out


def _iban(rng: random.Random) -> str:
    """An invented German IBAN with correct check digits."""
    bban = f"{rng.randint(10_000_000, 89_999_999)}{rng.randrange(10**10):010d}"
    check = 98 - int(bban + "131400") % 97  # "DE00" moved to the end, D=13, E=14
    return f"DE{check:02d}{bban}"


def _phone(rng: random.Random) -> str:
    return f"0351 {rng.randint(2_000_000, 8_999_999)}"


_MOBILE_PREFIXES = ("0151", "0152", "0157", "0160", "0162", "0170", "0171", "0176")


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(_MOBILE_PREFIXES)} {rng.randint(1_000_000, 99_999_999)}"


def _house_no(rng: random.Random) -> str:
    suffix = rng.choice("ab") if rng.random() < 0.08 else ""
    return f"{rng.randint(1, 140)}{suffix}"


# ---------------------------------------------------------------- districts


@dataclass(frozen=True, slots=True)
class _District:
    nr: str
    name: str
    bezirk: str
    art: str
    postcodes: tuple[str, ...]

    @property
    def density(self) -> int:
        return _DENSITY.get(self.nr, _ORTSCHAFT_DENSITY if self.art == "Ortschaft" else 5)

    def postcode(self, rng: random.Random) -> str:
        """One of the CSV's postcodes, else an invented ``01xxx`` one."""
        if self.postcodes:
            return rng.choice(self.postcodes)
        return f"01{rng.randint(67, 479):03d}"


def _districts() -> list[_District]:
    """The 64 Stadtteile from the same CSV the first migration loads."""
    text_ = resources.files("ekita.core.data").joinpath("dresden_stadtteile.csv")
    rows = csv.DictReader(text_.read_text("utf-8").splitlines(), delimiter=";")
    return [
        _District(
            r["stadtteil_nr"],
            r["stadtteil"],
            r["stadtbezirk_oder_ortschaft"],
            r["art"],
            tuple(p for p in r["plz"].split(",") if p),
        )
        for r in rows
    ]


def _short(district: _District) -> str:
    return district.name.split("/")[0].split(" (")[0]


# ---------------------------------------------------------------- generator state


@dataclass(slots=True)
class _Slot:
    """One occupied place: the child to be born into it, its contract and its district."""

    care_type: CareType
    facility_id: int | None
    childminder_id: int | None
    stadtteil_nr: str
    birth: date
    start: date
    employer: str | None = None


@dataclass
class _Builder:
    rng: random.Random
    today: date
    districts: list[_District]
    city: DemoCity
    slots: list[_Slot] = field(default_factory=list)
    carrier_kind: dict[int, _Kind] = field(default_factory=dict)  # independent carriers
    facility_kind: dict[int, str] = field(default_factory=dict)  # krippe | kita | hort
    employer: dict[int, str] = field(default_factory=dict)  # facilities with Belegrechte

    @cached_property
    def by_nr(self) -> dict[str, _District]:
        return {d.nr: d for d in self.districts}

    @cached_property
    def in_bezirk(self) -> dict[str, list[_District]]:
        out: dict[str, list[_District]] = defaultdict(list)
        for district in self.districts:
            out[district.bezirk].append(district)
        return out


def generate(seed: int = DEFAULT_SEED, today: date | None = None) -> DemoCity:
    """Build the demo city; the same ``seed`` and ``today`` always give the same rows.

    Rows hold every column except the ``created_at``/``updated_at`` stamps, which
    ``load`` adds (``stamped`` adds them for other bulk paths).
    """
    today = today or DEFAULT_TODAY
    stamp = datetime.combine(today, time(0, 0), UTC)
    b = _Builder(_Random(seed), today, _districts(), DemoCity(seed, today, stamp))
    _carriers(b)
    _facilities(b)
    _offers(b)
    _childminding(b)
    _households(b)
    return b.city


# ---------------------------------------------------------------- carriers


def _carrier_name(kind: str, rng: random.Random, districts: list[_District]) -> str:
    region, theme = rng.choice(_REGIONS), rng.choice(_THEMES)
    place = _short(rng.choice(districts))
    return {
        "awo": f"AWO Kinderwelt {region} gGmbH",
        "pari_verein": f"Kinderhaus {theme} e.V.",
        "pari_ggmbh": f"Kinder- und Familienwerk {region} gGmbH",
        "drk": f"DRK Kinder- und Jugendhilfe {region} e.V.",
        "diakonie": f"Diakonie Kinderwelt {region} gGmbH",
        "caritas": f"Caritas Kinderhilfe {region} gGmbH",
        "ev_parish": f"Ev.-Luth. Kirchgemeinde Dresden-{place}",
        "rk_parish": f"Kath. Pfarrei St. {rng.choice(_SAINTS)} Dresden-{place}",
        "initiative": f"Elterninitiative {theme} e.V.",
        "ggmbh": f"{theme} Bildung gGmbH",
        "private_ggmbh": f"{theme} Kinderbetreuung gGmbH",
        "private": f"{theme} Kinderbetreuung GmbH",
    }[kind]


def _carriers(b: _Builder) -> None:
    """The Eigenbetrieb (01/07) first, then ~60 independent carriers (Anlage L codes)."""
    b.city.carriers.append(
        dict(
            id=1,
            name="Landeshauptstadt Dresden",
            name2="Eigenbetrieb Kindertageseinrichtungen",
            category=CarrierCategory.MUNICIPAL,
            carrier_type=CarrierType.JUGENDAMT,
            legal_form=LegalForm.EIGENBETRIEB,
            street="Am Stadtpark",
            house_no="1",
            postcode="01067",
            town="Dresden",
            contact_person="Frau Katrin Vogel",
            phone=_phone(b.rng),
            fax=None,
            email="eb-kita@dresden.example",
            homepage="https://kita.dresden.example",
            remark=None,
        )
    )
    names: set[str] = set()
    for kind in _CARRIER_KINDS:
        for _ in range(kind.count):
            name = _carrier_name(kind.key, b.rng, b.districts)
            while name in names:
                name = _carrier_name(kind.key, b.rng, b.districts)
            names.add(name)
            cid = len(b.city.carriers) + 1
            district = b.rng.choice(b.districts)
            b.city.carriers.append(
                dict(
                    id=cid,
                    name=name,
                    name2=None,
                    category=CarrierCategory.INDEPENDENT,
                    carrier_type=kind.carrier_type,
                    legal_form=kind.legal_form,
                    street=b.rng.choice(_STREETS),
                    house_no=_house_no(b.rng),
                    postcode=district.postcode(b.rng),
                    town="Dresden",
                    contact_person=f"{b.rng.choice(_FEMALE)} {b.rng.choice(_SURNAMES)}",
                    phone=_phone(b.rng),
                    fax=_phone(b.rng) if b.rng.random() < 0.3 else None,
                    email=f"kontakt@traeger-{cid:02d}.example",
                    homepage=f"https://traeger-{cid:02d}.example",
                    remark=None,
                )
            )
            b.carrier_kind[cid] = kind


def _independent_carrier_ids(b: _Builder, kinds: list[str]) -> list[int]:
    """Carrier per independent facility: one each first, then by weight; Horte only for
    carriers that run Horte (welfare associations, larger gGmbHs)."""
    carriers = sorted(b.carrier_kind.items())
    out: list[int | None] = [None] * len(kinds)
    open_ = [i for i, k in enumerate(kinds) if k != "hort"]
    b.rng.shuffle(open_)
    for (cid, _), i in zip(carriers, open_, strict=False):
        out[i] = cid
    hort_ok = [(cid, k.weight) for cid, k in carriers if k.runs_horte]
    any_ok = [(cid, k.weight) for cid, k in carriers if k.weight]
    for i, kind in enumerate(kinds):
        if out[i] is None:
            pool = hort_ok if kind == "hort" else any_ok
            out[i] = b.rng.choices([c for c, _ in pool], [w for _, w in pool])[0]
    return [cid for cid in out if cid is not None]


# ---------------------------------------------------------------- facilities


def _facility_districts(b: _Builder, n: int) -> list[_District]:
    """Every Stadtteil once, the rest weighted by density, shuffled."""
    extra = b.rng.choices(b.districts, [d.density for d in b.districts], k=n - len(b.districts))
    chosen = list(b.districts) + extra
    b.rng.shuffle(chosen)
    return chosen


def _facility_plan(b: _Builder) -> list[tuple[str, bool, _District]]:
    """(kind, municipal, district) per facility, ordered by district so ids cluster."""
    kinds = [k for k, n in FACILITY_MIX.items() for _ in range(n)]
    municipal = [i < MUNICIPAL_MIX[k] for k, n in FACILITY_MIX.items() for i in range(n)]
    order = list(range(len(kinds)))
    b.rng.shuffle(order)
    districts = _facility_districts(b, len(kinds))
    plan = [(kinds[i], municipal[i], d) for i, d in zip(order, districts, strict=True)]
    plan.sort(key=lambda p: (p[2].nr, p[0], not p[1]))
    return plan


def _facility_name(b: _Builder, kind: str, school_no: int | None) -> str:
    if kind == "hort":
        return f"Hort an der {school_no}. Grundschule"
    prefix = "Kinderkrippe" if kind == "krippe" else "Kita"
    return f"{prefix} {b.rng.choice(_THEMES)}"


def _facilities(b: _Builder) -> None:
    plan = _facility_plan(b)
    independent = [kind for kind, municipal, _ in plan if not municipal]
    carrier_ids = iter(_independent_carrier_ids(b, independent))
    schools = iter(b.rng.sample(range(1, 160), FACILITY_MIX["hort"]))
    for fid, (kind, municipal, district) in enumerate(plan, start=1):
        carrier_id = 1 if municipal else next(carrier_ids)
        hort = kind == "hort"
        b.city.facilities.append(
            dict(
                id=fid,
                carrier_id=carrier_id,
                name=_facility_name(b, kind, next(schools) if hort else None),
                name2=district.name,
                cost_centre=f"5{5 if municipal else 6}{fid:04d}",
                street=b.rng.choice(_STREETS),
                house_no=_house_no(b.rng),
                postcode=district.postcode(b.rng),
                town="Dresden",
                stadtteil_nr=district.nr,
                phone=_phone(b.rng),
                email=f"einrichtung-{fid:03d}@kita.dresden.example",
                homepage=None if b.rng.random() < 0.6 else f"https://kita-{fid:03d}.example",
                head_name=f"{b.rng.choice(_FEMALE)} {b.rng.choice(_SURNAMES)}",
                opens_at=time(6, 0) if hort else b.rng.choice((time(6), time(6, 30), time(7))),
                closes_at=b.rng.choice((time(16, 30), time(17), time(17, 30), time(18))),
                profile=None if hort else b.rng.choice(_PROFILES),
                permit_date=_random_date(
                    b.rng, date(1991, 1, 1), _offer_start(b.today) - timedelta(days=180)
                ),
                integration_facility=b.rng.random() < 0.15,
                barrier_free=b.rng.random() < 0.3,
                company_reserved_places=0,
                flexible_capacity=False,
                in_bedarfsplan=True,
                status=FacilityStatus.OPEN,
                closure_from=None,
                closure_to=None,
                replacement_site=None,
                remark=None,
            )
        )
        b.facility_kind[fid] = kind
    _reserved_places(b)
    _temporary_closures(b)


def _reserved_places(b: _Builder) -> None:
    """A few Kitas hold places for a company's staff (Belegrechte, 3.6.2)."""
    kitas = [f for f in b.city.facilities if b.facility_kind[f["id"]] == "kita"]
    for facility in b.rng.sample(kitas, 15):
        facility["company_reserved_places"] = b.rng.randint(4, 12)
        b.employer[facility["id"]] = b.rng.choice(_EMPLOYERS)


def _temporary_closures(b: _Builder) -> None:
    """Two Kitas are in a replacement building while theirs is renovated (3.7.1.3)."""
    kitas = [f for f in b.city.facilities if b.facility_kind[f["id"]] == "kita"]
    for facility in b.rng.sample(kitas, 2):
        start = _last_first_before(b.today - timedelta(days=b.rng.randint(30, 240)))
        facility["status"] = FacilityStatus.TEMPORARILY_CLOSED
        facility["closure_from"] = start
        facility["closure_to"] = _add_years(start, b.rng.randint(1, 2))
        facility["replacement_site"] = (
            f"Interimsbau {b.rng.choice(_STREETS)} {_house_no(b.rng)}, {facility['postcode']} "
            "Dresden"
        )


# ---------------------------------------------------------------- care offers


def _raw_sizes(b: _Builder) -> dict[str, list[tuple[int, int]]]:
    """Unscaled places per care group as (facility id, places)."""
    sizes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for f in b.city.facilities:
        kind = b.facility_kind[f["id"]]
        if kind == "krippe":
            sizes["krippe"].append((f["id"], b.rng.randint(30, 80)))
        elif kind == "kita":
            sizes["krippe"].append((f["id"], b.rng.randint(12, 45)))
            sizes["kindergarten"].append((f["id"], b.rng.randint(35, 125)))
        else:
            sizes["hort"].append((f["id"], b.rng.randint(120, 320)))
    return sizes


def _offers(b: _Builder) -> None:
    """Current offers summing exactly to the 4.1 totals; integration places are carved
    out of the base offer so each group's total stays right; some facilities also
    carry an expired earlier offer (capacities are dated, 3.7.1.2)."""
    facilities = {f["id"]: f for f in b.city.facilities}
    base = {CareType.KRIPPE: "krippe", CareType.KINDERGARTEN: "kindergarten", CareType.HORT: "hort"}
    planned: list[tuple[int, CareType, int]] = []
    sizes = _raw_sizes(b)
    for care_type, group in base.items():
        scaled = _scale([n for _, n in sizes[group]], TARGET_PLACES[group])
        for (fid, _), places in zip(sizes[group], scaled, strict=True):
            integration = 0
            if facilities[fid]["integration_facility"] and (
                care_type != CareType.KRIPPE or b.rng.random() < 0.4
            ):
                integration = min(places // 4, b.rng.randint(5, 15))
            planned.append((fid, care_type, places - integration))
            if integration:
                planned.append((fid, _INTEGRATION[care_type], integration))
    planned.sort(key=lambda p: (p[0], list(CareType).index(p[1])))
    for fid, care_type, places in planned:
        cost_centre = f"{facilities[fid]['cost_centre']}{_OFFER_CODE[care_type]}"
        if care_type in base and b.rng.random() < 0.1:
            _offer(
                b,
                fid,
                care_type,
                places - b.rng.randint(5, 15),
                cost_centre,
                _offer_start(b.today).replace(year=b.today.year - OFFER_YEARS_BACK - 5),
                _offer_start(b.today) - timedelta(days=1),
            )
        _offer(b, fid, care_type, places, cost_centre, _offer_start(b.today), None)


def _offer(
    b: _Builder,
    fid: int,
    care_type: CareType,
    places: int,
    cost_centre: str,
    valid_from: date,
    valid_to: date | None,
) -> None:
    b.city.care_offers.append(
        dict(
            id=len(b.city.care_offers) + 1,
            facility_id=fid,
            care_type=care_type,
            approved_places=max(places, 0),
            cost_centre=cost_centre,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    )


# ---------------------------------------------------------------- childminding


def _childminding(b: _Builder) -> None:
    """3 BVS-KTP offices and 341 childminders with 1,650 places (capacity ≤ 5, 3.5.2)."""
    office_of: dict[str, int] = {}
    for oid, (area, street, bezirke) in enumerate(_OFFICE_AREAS, start=1):
        office_of.update(dict.fromkeys(bezirke, oid))
        b.city.childminding_offices.append(
            dict(
                id=oid,
                name=f"Beratungs- und Vermittlungsstelle Kindertagespflege {area}",
                street=street,
                house_no=str(b.rng.randint(1, 90)),
                postcode="01099",
                town="Dresden",
                phone=_phone(b.rng),
                email=f"bvs-ktp-{oid}@dresden.example",
                remark=None,
            )
        )
    capacities = [5] * CHILDMINDERS
    while sum(capacities) > TARGET_PLACES["kindertagespflege"]:
        i = b.rng.randrange(CHILDMINDERS)
        if capacities[i] > 1:
            capacities[i] -= 1
    districts = b.rng.choices(b.districts, [d.density for d in b.districts], k=CHILDMINDERS)
    districts.sort(key=lambda d: d.nr)
    for mid, (district, capacity) in enumerate(zip(districts, capacities, strict=True), 1):
        first = b.rng.choice(_FEMALE if b.rng.random() < 0.93 else _MALE)
        last = b.rng.choice(_SURNAMES)
        b.city.childminders.append(
            dict(
                id=mid,
                office_id=office_of.get(district.bezirk, 2),
                family_name=last,
                first_name=first,
                cost_centre=f"57{mid:04d}",
                street=b.rng.choice(_STREETS),
                house_no=_house_no(b.rng),
                postcode=district.postcode(b.rng),
                stadtteil_nr=district.nr,
                phone=_mobile(b.rng),
                email=f"{_ascii(first)}.{_ascii(last)}.{mid}@tagespflege.example",
                capacity=capacity,
                status="active",
                permit_valid_to=_add_years(b.today, b.rng.randint(1, 5)).replace(day=1),
                iban=_iban(b.rng),
                remark=None,
            )
        )


# ---------------------------------------------------------------- children's places


def _birth_and_start(b: _Builder, care_type: CareType) -> tuple[date, date]:
    """A birth date whose age fits the care type at ``today`` and a past contract start."""
    rng, today = b.rng, b.today
    group = care_group(care_type)
    latest_start = _last_first_before(today)
    if group in ("krippe", "kindertagespflege"):
        youngest = 380 if group == "krippe" else 300
        birth = _random_date(
            rng, _add_years(today, -3) + timedelta(days=15), today - timedelta(days=youngest)
        )
        entry = birth + timedelta(days=rng.randint(youngest - 80, youngest + 40))
        return birth, min(_next_first(entry), latest_start)
    school_year = _school_year(today)
    if group == "kindergarten":
        low = max(date(school_year - 6, 7, 1), _add_years(today, -7) + timedelta(days=1))
        birth = _random_date(rng, low, _add_years(today, -3) - timedelta(days=14))
        return birth, _add_years(birth, 3).replace(day=1)
    entry_year = rng.randint(school_year - 3, school_year)  # grades 1–4
    low = max(date(entry_year - 7, 7, 1), _add_years(today, -11) + timedelta(days=1))
    return _random_date(rng, low, date(entry_year - 6, 6, 30)), date(entry_year, 8, 1)


def _slots(b: _Builder) -> None:
    """One slot per occupied place: 95 % of every current offer and of childminding."""
    districts = {f["id"]: f["stadtteil_nr"] for f in b.city.facilities}
    bezirk = {d.nr: d.bezirk for d in b.districts}
    current = [o for o in b.city.care_offers if _valid(o["valid_from"], o["valid_to"], b.today)]
    current.sort(key=lambda o: (bezirk[districts[o["facility_id"]]], o["care_type"], o["id"]))
    reserved = {f["id"]: f["company_reserved_places"] for f in b.city.facilities}
    for offer, filled in zip(
        current, _filled([o["approved_places"] for o in current]), strict=True
    ):
        fid = offer["facility_id"]
        for _ in range(filled):
            birth, start = _birth_and_start(b, offer["care_type"])
            slot = _Slot(offer["care_type"], fid, None, districts[fid], birth, start)
            if reserved.get(fid) and offer["care_type"] in (CareType.KRIPPE, CareType.KINDERGARTEN):
                reserved[fid] -= 1
                slot.employer = b.employer[fid]
            b.slots.append(slot)
    minders = b.city.childminders
    for minder, filled in zip(minders, _filled([m["capacity"] for m in minders]), strict=True):
        for _ in range(filled):
            birth, start = _birth_and_start(b, CareType.KINDERTAGESPFLEGE)
            b.slots.append(
                _Slot(
                    CareType.KINDERTAGESPFLEGE,
                    None,
                    minder["id"],
                    minder["stadtteil_nr"],
                    birth,
                    start,
                )
            )


def _sibling_groups(b: _Builder) -> list[list[_Slot]]:
    """Group the slots of one Stadtteil into families of 1–3 children born ≥ 300 days apart."""
    pools: dict[str, list[_Slot]] = defaultdict(list)
    for slot in b.slots:
        pools[slot.stadtteil_nr].append(slot)
    groups = []
    for nr in sorted(pools):
        pool = pools[nr]
        b.rng.shuffle(pool)
        while pool:
            members = [pool.pop()]
            size = b.rng.choices((1, 2, 3), (55, 34, 11))[0]
            i = len(pool) - 1
            while len(members) < size and i >= 0 and i >= len(pool) - 30:
                if all(abs((pool[i].birth - m.birth).days) >= 300 for m in members):
                    members.append(pool.pop(i))
                i -= 1
            members.sort(key=lambda s: (s.birth, s.care_type))
            groups.append(members)
    return groups


# ---------------------------------------------------------------- households


def _households(b: _Builder) -> None:
    _slots(b)
    for number, members in enumerate(_sibling_groups(b), start=100_000):
        _household(b, number, members)


def _home(b: _Builder, members: list[_Slot]) -> tuple[_District, str, str, str]:
    """Mostly the Stadtteil of the children's places, sometimes another in the Bezirk."""
    district = b.by_nr[members[0].stadtteil_nr]
    if b.rng.random() < 0.12:
        district = b.rng.choice(b.in_bezirk[district.bezirk])
    return district, b.rng.choice(_STREETS), _house_no(b.rng), district.postcode(b.rng)


def _household(b: _Builder, number: int, members: list[_Slot]) -> None:
    """A family with its children (oldest first), their PKNs, guardians and contracts."""
    city, rng = b.city, b.rng
    family_id = len(city.families) + 1
    city.families.append(dict(id=family_id, number=str(number), remark=None))
    surname = rng.choice(_SURNAMES)
    district, street, house_no, postcode = _home(b, members)
    address = {"street": street, "house_no": house_no, "postcode": postcode, "town": "Dresden"}
    employer = next((m.employer for m in members if m.employer), None)
    guardian_ids = _guardians(b, family_id, surname, address, members[0].birth, employer)
    custody = (
        CustodyKind.JOINT
        if len(guardian_ids) == 2
        else (CustodyKind.GUARDIANSHIP if rng.random() < 0.03 else CustodyKind.SOLE)
    )
    payer_kind = PayerKind.DIRECT_DEBIT if rng.random() < 0.85 else PayerKind.SELF_PAYER
    payer = guardian_ids[0] if rng.random() < 0.8 else rng.choice(guardian_ids)
    names: set[str] = set()
    for index, slot in enumerate(members, start=1):
        child_id = len(city.children) + 1
        sex = Sex.FEMALE if rng.random() < 0.49 else Sex.MALE
        first = rng.choice(_FEMALE[:25] if sex == Sex.FEMALE else _MALE[:25])
        while first in names:
            first = rng.choice(_FEMALE[:25] if sex == Sex.FEMALE else _MALE[:25])
        names.add(first)
        city.children.append(
            dict(
                id=child_id,
                family_id=family_id,
                family_name=surname,
                first_name=first,
                birth_date=slot.birth,
                sex=sex,
                **address,
                stadtteil_nr=district.nr,
                integration_need=slot.care_type in _INTEGRATION.values(),
                excluded_from_count=False,
                school_deferred=False,
                health_notes=None,
                emergency_contact=None,
            )
        )
        city.pkns.append(
            dict(
                id=child_id,
                number=f"{number}{index:02d}",
                child_id=child_id,
                family_id=family_id,
                valid_from=slot.birth,
                valid_to=None,
                active=True,
                successor_id=None,
            )
        )
        for guardian_id in guardian_ids:
            city.child_guardians.append(
                dict(
                    id=len(city.child_guardians) + 1,
                    child_id=child_id,
                    guardian_id=guardian_id,
                    custody=custody,
                )
            )
        _contract(b, child_id, slot, payer, payer_kind)


def _guardians(
    b: _Builder,
    family_id: int,
    surname: str,
    address: dict[str, str],
    oldest: date,
    employer: str | None,
) -> list[int]:
    """One or two guardians (single_parent when one), each with 1–2 contacts."""
    rng = b.rng
    pair = rng.random() < 0.78
    people = [(rng.choice(_FEMALE), surname)] if pair or rng.random() < 0.85 else []
    if pair:
        people.append(
            (rng.choice(_MALE), surname if rng.random() < 0.75 else rng.choice(_SURNAMES))
        )
    elif not people:
        people.append((rng.choice(_MALE), surname))
    ids = []
    for position, (first, last) in enumerate(people):
        guardian_id = len(b.city.guardians) + 1
        ids.append(guardian_id)
        email = rng.random() < 0.65
        b.city.guardians.append(
            dict(
                id=guardian_id,
                family_id=family_id,
                family_name=last,
                first_name=first,
                birth_date=oldest - timedelta(days=rng.randint(21 * 365, 40 * 365)),
                **address,
                single_parent=not pair,
                notification_channel=NotificationChannel.EMAIL
                if email
                else NotificationChannel.POST,
                employer=employer if position == 0 else None,
                remark=None,
            )
        )
        _contacts(b, guardian_id, first, last, email)
    return ids


def _contacts(b: _Builder, guardian_id: int, first: str, last: str, email: bool) -> None:
    """A phone number (emergency or administrative) and, often, an administrative e-mail."""
    rng, contacts = b.rng, b.city.guardian_contacts
    emergency = rng.random() < 0.75
    contacts.append(
        dict(
            id=len(contacts) + 1,
            guardian_id=guardian_id,
            kind=ContactKind.PHONE,
            value=_mobile(rng) if rng.random() < 0.8 else _phone(rng),
            visibility=ContactVisibility.EMERGENCY
            if emergency
            else ContactVisibility.ADMINISTRATIVE,
            label="Notfall" if emergency else "tagsüber",
        )
    )
    if email or rng.random() < 0.2:
        contacts.append(
            dict(
                id=len(contacts) + 1,
                guardian_id=guardian_id,
                kind=ContactKind.EMAIL,
                value=f"{_ascii(first)}.{_ascii(last)}{guardian_id}@mail.example",
                visibility=ContactVisibility.ADMINISTRATIVE,
                label=None,
            )
        )


def _contract(b: _Builder, child_id: int, slot: _Slot, payer: int, payer_kind: PayerKind) -> None:
    """The current contract of the slot's place, in a daily-hours tier of its care type."""
    group = care_group(slot.care_type)
    tiers, cumulative = _TIERS[group][0], _TIER_CUMULATIVE[group]
    contracts = b.city.care_contracts
    contracts.append(
        dict(
            id=len(contracts) + 1,
            child_id=child_id,
            facility_id=slot.facility_id,
            childminder_id=slot.childminder_id,
            care_type=slot.care_type,
            start_date=slot.start,
            end_date=None,
            daily_hours=_HOURS[b.rng.choices(tiers, cum_weights=cumulative)[0]],
            payer_guardian_id=payer,
            payer_kind=payer_kind,
            company_reserved_place=slot.employer is not None,
            signed_on=slot.start - timedelta(days=b.rng.randint(14, 90)),
            remark=None,
        )
    )
