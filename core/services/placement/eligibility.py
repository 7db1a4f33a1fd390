"""Which care types fit a child's age at the desired start (placement.md §3.5; Anlage A §1(3)).

Krippe and childminding until the completed 3rd year; Kindergarten from the completed
34th month until school entry; Hort for school children. Integration need adds the
integration variants and the heilpädagogische place.
"""

from __future__ import annotations

from datetime import date

from ekita.core.models.enums import CareType
from ekita.core.services.placement.occupancy import age_in_months, school_leaving_day
from ekita.core.services.placement.rules import PlacementRules

KINDERGARTEN_FROM_MONTH = 34  # Anlage A §1(3): admission from the 34th month possible
KRIPPE_UNTIL_MONTH = 36

INTEGRATION_OF = {
    CareType.KRIPPE: CareType.INTEGRATION_KRIPPE,
    CareType.KINDERGARTEN: CareType.INTEGRATION_KINDERGARTEN,
    CareType.HORT: CareType.INTEGRATION_HORT,
}
INTEGRATION_TYPES = frozenset(INTEGRATION_OF.values()) | {CareType.HEILPAEDAGOGISCH}
HORT_TYPES = frozenset({CareType.HORT, CareType.INTEGRATION_HORT})


def allowed_care_types(birth: date, start: date, rules: PlacementRules, *,
                       integration: bool = False, deferred: bool = False) -> list[CareType]:
    """Care types a child born on ``birth`` may start on ``start``, most fitting first."""
    if start >= school_leaving_day(birth, rules.school_entry_cutoff, deferred):
        base = [CareType.HORT]
    else:
        months = age_in_months(birth, start)
        base = []
        if months < KRIPPE_UNTIL_MONTH:
            base += [CareType.KRIPPE]
        if months >= KINDERGARTEN_FROM_MONTH:
            base += [CareType.KINDERGARTEN]
    allowed = list(base)
    if integration:
        allowed = [INTEGRATION_OF[t] for t in base] + base
        if CareType.HORT not in base:
            allowed.append(CareType.HEILPAEDAGOGISCH)
    if CareType.KRIPPE in base:
        allowed.append(CareType.KINDERTAGESPFLEGE)
    return allowed


def care_type_for(wished: CareType, birth: date, start: date, rules: PlacementRules, *,
                  integration: bool = False, deferred: bool = False) -> CareType:
    """The care type a child needs at a preference: the wished one when it fits the child's
    age (siblings of different ages share one preference), otherwise the best fit."""
    allowed = allowed_care_types(birth, start, rules, integration=integration,
                                 deferred=deferred)
    if wished in allowed:
        return wished
    if wished == CareType.KINDERTAGESPFLEGE:
        return wished  # childminding: the BVS-KTP finds the place; validated at intake
    if wished in INTEGRATION_TYPES:
        fitting = [t for t in allowed if t in INTEGRATION_TYPES]
        if fitting:
            return fitting[0]
    return allowed[0]
