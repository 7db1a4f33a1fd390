"""Counted children (Zählkinder, fees.md §5): who counts, and each child's rank.

Z1 children of a household in care at the same time count, also in care outside
Dresden; Z3 the oldest is the 1st; Z4 foster/residential (§§ 33, 34, 42 SGB VIII) and
heilpädagogische children do not count; Z5 households linked by a sibling link
(Wechselmodell) count together; Z6 the rank is per calendar month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date


class _Union:
    """Union-find over household ids: linked households form one counting group."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def ranks(counted: Iterable[tuple[int, int, date]], links: Iterable[tuple[int, int]]
          ) -> dict[int, int]:
    """Rank per child id, from (child id, household id, birth date) of the counted children
    and (household, household) links: 1 = the oldest of its group (ties: lower id)."""
    groups = _Union()
    for a, b in links:
        groups.union(a, b)
    members: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for child_id, family_id, birth in counted:
        members[groups.find(family_id)].append((birth, child_id))
    result: dict[int, int] = {}
    for children in members.values():
        for rank, (_birth, child_id) in enumerate(sorted(set(children)), start=1):
            result[child_id] = rank
    return result
