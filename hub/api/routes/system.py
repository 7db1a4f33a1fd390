"""Health and the loaded plugins.

``GET /health`` (issue 12 item 9, threat: an anonymous caller learning peer URLs, plugin
names and error texts, or tying the hub up by calling a health check that waits on a slow
peer): without a key it says only ``{"status": "up"|"down"}`` (the database answers or not)
and asks no peer. With an ops or admin key (``ops:read``) it adds the database, the plugins
and every plugin's checks. Plugin checks run in threads and are given ``CHECK_BUDGET_S`` in
all: a check still running then is reported as not answering (issue 12 item 5).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ekita.core.access import Permission, Principal
from ekita.core.db.session import unit_of_work
from ekita.core.services.accounts import authenticate
from ekita.core.services.base import require
from ekita.hub.api.deps import DB
from ekita.hub.plugins import LoadedPlugins
from ekita.hub.registrations import HealthResult

router = APIRouter(tags=["system"])
health_router = APIRouter(tags=["system"])

CHECK_BUDGET_S = 2.0
_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health-check")


def _run(impl: Any, settings: object) -> list[HealthResult]:
    try:
        return list(impl.function(settings=settings) or ())
    except Exception as exc:  # a plugin's failure is reported, never raised
        return [HealthResult(impl.plugin_name, False, type(exc).__name__)]


def health_by_plugin(plugins: LoadedPlugins, settings: object,
                     budget_s: float = CHECK_BUDGET_S) -> dict[str, list[HealthResult]]:
    """Every plugin's checks, all together within ``budget_s`` (the rest: "no answer")."""
    impls = plugins.manager.hook.health_checks.get_hookimpls()
    futures = [(impl, _checks.submit(_run, impl, settings)) for impl in impls]
    wait([f for _, f in futures], timeout=budget_s)
    results: dict[str, list[HealthResult]] = {}
    for impl, future in futures:
        found = future.result() if future.done() else [HealthResult(
            impl.plugin_name, False, f"no answer within {budget_s:g} s")]
        results.setdefault(impl.plugin_name, []).extend(found)
    return results


def plugin_health(plugins: LoadedPlugins, settings: object) -> list[HealthResult]:
    return [r for found in health_by_plugin(plugins, settings).values() for r in found]


def _operator(request: Request) -> Principal | None:
    """The caller, when a valid key with ``ops:read`` came along; else anonymous."""
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        with unit_of_work(request.app.state.engine, Principal.system("api", "auth")) as session:
            found = authenticate(session, token.strip())
    except Exception:  # the database is down: the answer is "down" anyway
        return None
    return found if found is not None and found.can(Permission.OPS_READ) else None


@health_router.get("/health")
def health(request: Request) -> JSONResponse:
    """Up or down for anyone; the details only for ops and admin keys (issue 12 item 9)."""
    state = request.app.state
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database: dict[str, Any] = {"ok": True}
    except Exception as exc:
        database = {"ok": False, "detail": type(exc).__name__}
    status, code = ("up", 200) if database["ok"] else ("down", 503)
    if not database["ok"] or _operator(request) is None:
        return JSONResponse({"status": status}, status_code=code)
    checks = plugin_health(state.plugins, state.settings)
    body = {"status": status, "degraded": not all(c.ok for c in checks),
            "database": database, "plugins": state.plugins.names(),
            "checks": [c.__dict__ for c in checks]}
    return JSONResponse(body, status_code=code)


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
