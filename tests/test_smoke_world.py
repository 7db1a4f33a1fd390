from sqlalchemy import func, select

from ekita.core.models import AuditEvent, Child
from tests.conftest import work
from tests.world import build_world


def test_world_builds(engine):
    w = build_world(engine)
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Child)) == 6
        assert s.scalar(select(func.count()).select_from(AuditEvent)) > 20
    assert len(w.contracts) == 6
