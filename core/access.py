"""Who is acting, and what that role may do and see (3.15.2, data-protection.md §3).

Roles are groups of permissions (3.15.2 asks for rights through groups, never
per user). Row scoping (which children a carrier sees) lives in
``ekita.core.scoping``; this module decides permissions and field visibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ekita.core.models.enums import Role


class Permission(StrEnum):
    MASTERDATA_READ = "masterdata:read"
    MASTERDATA_WRITE = "masterdata:write"  # create carriers/facilities, change capacities
    OWN_FACILITY_EDIT = "facility:edit_own"  # contact and concept data of own facilities
    OWN_CARRIER_EDIT = "carrier:edit_own"
    PEOPLE_READ = "people:read"
    PEOPLE_CREATE = "people:create"
    PEOPLE_WRITE = "people:write"
    CONTRACTS_WRITE = "contracts:write"
    AUDIT_READ = "audit:read"
    USERS_MANAGE = "users:manage"
    OPS_READ = "ops:read"
    # Placement (Lastenheft 3.2–3.7): read in scope; file/edit/delete for the parents;
    # ZVS decisions (release, priority, pool, inactivation); facility work (review,
    # forward, reserve, sign, exits) at own facilities.
    PLACEMENT_READ = "placement:read"
    PLACEMENT_SUBMIT = "placement:submit"
    PLACEMENT_ZVS = "placement:zvs"
    PLACEMENT_FACILITY = "placement:facility"
    OPS_REPLAY = "ops:replay"  # re-queue dead or delivered messages
    # Parental fees (3.10): the fee office (finance) computes and debits; ZVS reads;
    # waivers/reductions only EB Kita (R12). Placement roles never read fee data (M8).
    FEES_READ = "fees:read"
    FEES_WRITE = "fees:write"
    FEES_WAIVER = "fees:waiver"
    # Family e-file (3.7.4, data-protection R10 and the access matrix): EB Kita only; the
    # ZVS reads, the fee office reads and files; templates are managed by administrators.
    DOCUMENTS_READ = "documents:read"
    DOCUMENTS_WRITE = "documents:write"
    TEMPLATES_MANAGE = "templates:manage"


_EB_KITA = {
    Permission.MASTERDATA_READ,
    Permission.MASTERDATA_WRITE,
    Permission.PEOPLE_READ,
    Permission.PEOPLE_CREATE,
    Permission.PEOPLE_WRITE,
    Permission.CONTRACTS_WRITE,
    Permission.AUDIT_READ,
    Permission.PLACEMENT_READ,
    Permission.PLACEMENT_SUBMIT,
    Permission.PLACEMENT_ZVS,
    Permission.PLACEMENT_FACILITY,
}
_TENANT = {
    Permission.MASTERDATA_READ,
    Permission.OWN_FACILITY_EDIT,
    Permission.PEOPLE_READ,
    Permission.PEOPLE_WRITE,
    Permission.CONTRACTS_WRITE,
    Permission.PLACEMENT_READ,
    Permission.PLACEMENT_SUBMIT,
    Permission.PLACEMENT_FACILITY,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(_EB_KITA | {Permission.USERS_MANAGE, Permission.OPS_READ,
                                      Permission.OPS_REPLAY, Permission.FEES_READ,
                                      Permission.FEES_WRITE, Permission.FEES_WAIVER}
                          | {Permission.DOCUMENTS_READ, Permission.DOCUMENTS_WRITE,
                             Permission.TEMPLATES_MANAGE}),
    Role.ZVS: frozenset(_EB_KITA | {Permission.FEES_READ} | {Permission.DOCUMENTS_READ}),
    Role.FACILITY_LEAD: frozenset(_TENANT),
    Role.CARRIER: frozenset(_TENANT | {Permission.OWN_CARRIER_EDIT}),
    Role.FINANCE: frozenset({Permission.MASTERDATA_READ, Permission.PEOPLE_READ,
                             Permission.PLACEMENT_READ, Permission.FEES_READ,
                             Permission.FEES_WRITE, Permission.FEES_WAIVER}
                            | {Permission.DOCUMENTS_READ, Permission.DOCUMENTS_WRITE}),
    Role.OPS: frozenset({Permission.MASTERDATA_READ, Permission.OPS_READ, Permission.OPS_REPLAY}),
    Role.INTEGRATION: frozenset({Permission.MASTERDATA_READ}),
}

# Sensitivity classes of fields (``Tracked.__sensitive__``) and the roles that may see
# their values. Everyone else gets them masked, in API responses and in the audit view.
REVEAL: dict[str, frozenset[Role]] = {
    "facility_only": frozenset({Role.FACILITY_LEAD, Role.CARRIER}),  # R6, R7
    "bank": frozenset({Role.FINANCE, Role.CARRIER}),  # R7, R8
    # Childminders' accounts: the fee office pays them; carriers have no business there.
    "childminder_bank": frozenset({Role.FINANCE, Role.ADMIN}),  # issue 12 item 3
    "health": frozenset({Role.FACILITY_LEAD, Role.CARRIER}),  # R6; encrypted at rest (M9)
    "secret": frozenset(),
    "zvs_only": frozenset({Role.ZVS}),  # switch reasons (data-protection R5)
    "rank": frozenset({Role.ZVS, Role.ADMIN, Role.FINANCE}),  # preference rank, priority (R4)
}
# Classes whose keys are left out altogether, not masked, for facility leads and carriers:
# the rank must be absent from every answer for them (decisions D19).
OMIT_FOR_TENANTS = frozenset({"zvs_only", "rank"})

MASK = "***"


@dataclass(frozen=True)
class Principal:
    """The actor of a unit of work: an API key's holder, the CLI, a job or an adapter."""

    name: str
    role: Role
    facility_id: int | None = None
    carrier_id: int | None = None
    source: str = "api"

    @classmethod
    def system(cls, source: str = "cli", name: str = "system") -> Principal:
        """Unrestricted principal for the CLI, jobs and the demo loader."""
        return cls(name=name, role=Role.ADMIN, source=source)

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def tenant_bound(self) -> bool:
        return self.role in (Role.CARRIER, Role.FACILITY_LEAD)


def may_reveal(role: Role, sensitivity: str) -> bool:
    return role in REVEAL.get(sensitivity, frozenset())


def redact(values: dict, sensitive: dict[str, str], role: Role) -> dict:
    """Mask the values of sensitive fields the role may not see (keeps the keys, except
    the ``OMIT_FOR_TENANTS`` classes, which tenants do not get at all)."""
    if role in (Role.FACILITY_LEAD, Role.CARRIER):
        values = {k: v for k, v in values.items()
                  if sensitive.get(k) not in OMIT_FOR_TENANTS or may_reveal(role, sensitive[k])}
    return {
        key: (
            MASK
            if key in sensitive and value is not None and not may_reveal(role, sensitive[key])
            else value
        )
        for key, value in values.items()
    }
