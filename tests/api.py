"""Helpers for API tests: an app on the test database and keys per role."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ekita.core.models.enums import Role
from ekita.core.services.accounts import create_api_key
from ekita.hub.api.app import create_app
from ekita.hub.config import Settings
from ekita.hub.plugins import load_plugins
from tests.conftest import work


def client(engine: Engine) -> TestClient:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    return TestClient(create_app(settings, engine, load_plugins(settings)))


def key(engine: Engine, role: Role, facility_id: int | None = None,
        carrier_id: int | None = None) -> dict[str, str]:
    with work(engine) as s:
        token = create_api_key(s, name=f"t-{role}", role=role, facility_id=facility_id,
                               carrier_id=carrier_id).token
    return {"Authorization": f"Bearer {token}"}
