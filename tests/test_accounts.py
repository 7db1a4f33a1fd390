"""API keys and their binding to one tenant (issue 2 item 8; Lastenheft 3.15.2)."""

from __future__ import annotations

import pytest

from ekita.core.errors import NotFound, RuleViolation
from ekita.core.models.enums import Role
from ekita.core.services.accounts import authenticate, create_api_key
from tests.conftest import work
from tests.world import build_world


@pytest.mark.parametrize(("role", "facility", "carrier", "message"), [
    (Role.FACILITY_LEAD, False, False, "role facility_lead needs --facility"),
    (Role.CARRIER, False, False, "role carrier needs --carrier"),
    (Role.ZVS, True, False, "role zvs takes no facility"),
    (Role.ADMIN, False, True, "role admin takes no carrier"),
])
def test_tenant_binding_is_checked(engine, role, facility, carrier, message):
    """A facility lead belongs to one facility, a carrier key to one carrier, others to none."""
    world = build_world(engine)
    with pytest.raises(RuleViolation, match=message), work(engine) as s:
        create_api_key(s, name="x", role=role,
                       facility_id=world.facility_b1 if facility else None,
                       carrier_id=world.independent if carrier else None)


def test_bound_tenant_must_exist(engine):
    with pytest.raises(NotFound), work(engine) as s:
        create_api_key(s, name="x", role=Role.CARRIER, carrier_id=999)


def test_revoked_and_forged_keys_do_not_authenticate(engine):
    """M2: only a current, exact key authenticates."""
    from datetime import UTC, datetime

    with work(engine) as s:
        issued = create_api_key(s, name="x", role=Role.OPS)
    prefix = issued.token.split("_")[1]
    with work(engine) as s:
        assert authenticate(s, issued.token).role == Role.OPS
        assert authenticate(s, f"ekita_{prefix}_forged") is None
        assert authenticate(s, issued.token.replace("ekita_", "other_")) is None
        s.get(type(issued.key), issued.key.id).revoked_at = datetime.now(UTC)
    with work(engine) as s:
        assert authenticate(s, issued.token) is None
