"""Health and the loaded plugins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ekita.core.access import Permission
from ekita.core.services.base import require
from ekita.hub.api.deps import DB
from ekita.hub.plugins import LoadedPlugins
from ekita.hub.registrations import HealthResult

router = APIRouter(tags=["system"])
health_router = APIRouter(tags=["system"])


def health_by_plugin(plugins: LoadedPlugins, settings: object) -> dict[str, list[HealthResult]]:
    results: dict[str, list[HealthResult]] = {}
    for impl in plugins.manager.hook.health_checks.get_hookimpls():
        try:
            found = list(impl.function(settings=settings) or ())
        except Exception as exc:  # a plugin's failure is reported, never raised
            found = [HealthResult(impl.plugin_name, False, type(exc).__name__)]
        results.setdefault(impl.plugin_name, []).extend(found)
    return results


def plugin_health(plugins: LoadedPlugins, settings: object) -> list[HealthResult]:
    return [r for found in health_by_plugin(plugins, settings).values() for r in found]


@health_router.get("/health")
def health(request: Request) -> JSONResponse:
    """Database reachable and plugins loaded; no authentication, no personal data."""
    state = request.app.state
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = {"ok": True}
    except Exception as exc:
        database = {"ok": False, "detail": type(exc).__name__}
    checks = plugin_health(state.plugins, state.settings)
    ok = database["ok"] and all(c.ok for c in checks)
    body = {"status": "ok" if ok else "degraded", "database": database,
            "plugins": state.plugins.names(),
            "checks": [c.__dict__ for c in checks]}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/plugins")
def list_plugins(session: DB, request: Request) -> list[dict]:
    require(session, Permission.MASTERDATA_READ)
    plugins: LoadedPlugins = request.app.state.plugins
    return [
        {"plugin": name,
         "adapters": [{"name": r.name, "version": r.version, "summary": r.summary,
                       "capabilities": sorted(r.capabilities),
                       "personal_fields": sorted(r.personal_fields)}
                      for r in plugins.adapters.values() if r.plugin == name]}
        for name in plugins.names()
    ]
