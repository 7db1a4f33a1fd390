"""API keys and their binding to one tenant (issue 2 item 8; Lastenheft 3.15.2)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@given(day=st.dates(date(2026, 1, 1), date(2040, 12, 31)))
def test_expiry_day_is_the_last_whole_day_in_dresden(day):
    """Issue 12 item 13, threat: a key dated "until D" dying early or living on across a
    daylight-saving switch: it works through 24:00 of D in Europe/Berlin, and not after."""
    from datetime import UTC, time, timedelta

    from ekita.core.models import ApiKey
    from ekita.core.services.accounts import end_of_day
    from ekita.core.tracking import BERLIN

    end = end_of_day(day).astimezone(UTC)
    local = end.astimezone(BERLIN)
    assert (local.date(), local.time()) == (day + timedelta(days=1), time(0))
    key = ApiKey(name="x", expires_at=end)
    assert key.status_at(end - timedelta(microseconds=1)) == "active"
    assert key.status_at(end) == "expired"
