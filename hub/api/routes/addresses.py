"""Address help for intake forms (Lastenheft 3.3.2): street suggestions.

The suggestions come from whatever street directory a plugin installed in the core's
registries slot (the KIS plugin: embedded directory or KIS REST); none installed, none
suggested. The route opens no database session (``Who`` authenticates in a unit of work
of its own, closed before), so a KIS call here never runs inside a transaction; a slow or
garbage KIS falls back to the embedded directory within its deadline (issue 12 item 5).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ekita.core.services import registries
from ekita.hub.api.deps import Who

router = APIRouter(prefix="/addresses", tags=["addresses"])


@router.get("/streets", summary="Street suggestions for an address form (3.3.2)")
def streets(_who: Who, prefix: Annotated[str, Query(min_length=1, max_length=80)],
            limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[dict[str, str]]:
    return registries.suggest_streets(prefix, limit)
