"""The plugin manager and every hook (issue 2 item 6; docs/plugin-hooks.md).

Every hook in ``ekita.hub.hookspecs`` needs a test here named ``test_hook_<name>`` and a
section in docs/plugin-hooks.md; ``test_every_hook_is_tested_and_documented`` enforces both.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import typer
from fastapi import APIRouter
from typer.testing import CliRunner

from ekita.core.models.enums import Role
from ekita.hub import AdapterRegistration, AdapterSettings, HealthResult, hookimpl
from ekita.hub.api.deps import Who
from ekita.hub.config import Settings
from ekita.hub.hookspecs import all_hook_names
from ekita.hub.plugins import DEFAULT_PLUGINS, PluginError, load_plugins
from tests.api import key
from tests.conftest import work

ROOT = Path(__file__).resolve().parents[1]


def plugin(**functions: object) -> types.ModuleType:
    module = types.ModuleType("test_plugin")
    for name, fn in functions.items():
        setattr(module, name, hookimpl(fn))
    return module


def test_every_hook_is_tested_and_documented():
    """Each hook has a test_hook_<name> in this file and a '### <name>(' section in the docs."""
    docs = (ROOT / "docs" / "plugin-hooks.md").read_text()
    tests = Path(__file__).read_text()
    names = all_hook_names()
    assert names, "no hooks found"
    for name in names:
        assert re.search(rf"^### {name}\(", docs, re.M), f"hook {name} missing from the docs"
        assert f"def test_hook_{name}(" in tests, f"hook {name} has no test"


def test_builtin_plugins_load_like_external_ones():
    """Built-ins register through DEFAULT_PLUGINS and the same manager path."""
    loaded = load_plugins(Settings())
    assert set(loaded.names()) >= {m.rsplit(".", 1)[1] for m in DEFAULT_PLUGINS}
    assert loaded.adapters["meso"].plugin == "meso"


def test_hook_register_adapters():
    """Registration returns typed records; secrets in the config model stay SecretStr."""
    from pydantic import SecretStr

    class Cfg(AdapterSettings):
        url: str = "http://localhost"
        password: SecretStr = SecretStr("pw")

    extra = plugin(register_adapters=lambda: [AdapterRegistration(
        name="acme", version="1.2.3", summary="Acme carrier", config_model=Cfg,
        personal_fields=frozenset({"family_name"}))])
    loaded = load_plugins(Settings(), extra=[("acme_plugin", extra)])
    reg = loaded.adapters["acme"]
    assert reg.plugin == "acme_plugin" and reg.version == "1.2.3"
    assert loaded.adapter_settings["acme"].password.get_secret_value() == "pw"


def test_duplicate_adapter_names_fail_loudly():
    """Two plugins registering one adapter name stop the hub with both names."""
    twin = plugin(register_adapters=lambda: [AdapterRegistration("meso", "9", "twin")])
    with pytest.raises(PluginError, match="'meso' is registered by both 'meso' and 'twin'"):
        load_plugins(Settings(), extra=[("twin", twin)])


def test_wrong_return_type_fails_loudly():
    bad = plugin(register_adapters=lambda: [{"name": "x"}])
    with pytest.raises(PluginError, match="not an AdapterRegistration"):
        load_plugins(Settings(), extra=[("bad", bad)])


def test_unknown_hookimpl_is_rejected_at_startup():
    """A misspelt hook (no matching spec) is caught by the start-up check."""
    typo = plugin(register_adaptors=lambda: [])
    with pytest.raises(PluginError, match="register_adaptors"):
        load_plugins(Settings(), extra=[("typo", typo)])


def test_hookimpl_with_unknown_argument_is_rejected():
    wrong = plugin(register_routes=lambda settings, app: [])
    with pytest.raises(PluginError, match="app"):
        load_plugins(Settings(), extra=[("wrong", wrong)])


def test_allow_and_block_lists():
    """EKITA_LOAD_PLUGINS allow-list and EKITA_DISABLED_PLUGINS block-list."""
    only = load_plugins(Settings(load_plugins=["meso", "kis"]))
    assert only.names() == ["kis", "meso"]
    without = load_plugins(Settings(disabled_plugins=["sap_co"]))
    assert "sap_co" not in without.names() and "sap_fi" in without.names()


def test_env_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("EKITA_LOAD_PLUGINS", "meso, kis")
    monkeypatch.setenv("EKITA_DISABLED_PLUGINS", "kis")
    assert load_plugins(Settings()).names() == ["meso"]


def test_hook_register_commands():
    """Plugins add CLI commands to the root typer app."""
    cli = typer.Typer()

    @cli.command()
    def version() -> None:
        """placeholder so typer builds a group"""

    def register_commands(cli: typer.Typer) -> None:
        @cli.command("acme-hello")
        def hello() -> None:
            typer.echo("hello from acme")

    loaded = load_plugins(Settings(), extra=[("acme", plugin(register_commands=register_commands))])
    loaded.manager.hook.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["acme-hello"])
    assert result.exit_code == 0 and "hello from acme" in result.output


def test_hook_register_routes(engine):
    """Plugin routers are mounted under /api/v1/adapters and use the hub's auth."""
    from fastapi.testclient import TestClient

    from ekita.hub.api.app import create_app
    router = APIRouter(prefix="/acme")

    @router.get("/whoami")
    def whoami(who: Who) -> dict:
        return {"role": who.role}

    extra = plugin(register_routes=lambda settings: [router])
    settings = Settings()
    api = TestClient(create_app(settings, engine, load_plugins(settings, extra=[("acme", extra)])))
    assert api.get("/api/v1/adapters/acme/whoami").status_code == 401
    r = api.get("/api/v1/adapters/acme/whoami", headers=key(engine, Role.OPS))
    assert r.json() == {"role": "ops"}


def test_hook_health_checks(engine):
    """Plugin health results appear in /health; a failing or raising check degrades it."""
    from fastapi.testclient import TestClient

    from ekita.hub.api.app import create_app

    def good(settings):
        return [HealthResult("acme-peer", True, "reachable")]

    def broken(settings):
        raise ConnectionError("peer down")

    settings = Settings()
    ok = TestClient(create_app(settings, engine, load_plugins(
        settings, extra=[("acme", plugin(health_checks=good))])))
    ops = key(engine, Role.OPS)  # details need the ops role (issue 12 item 9)
    body = ok.get("/health", headers=ops).json()
    assert body["status"] == "up" and {"name": "acme-peer", "ok": True,
                                       "detail": "reachable"} in body["checks"]
    bad = TestClient(create_app(settings, engine, load_plugins(
        settings, extra=[("broken", plugin(health_checks=broken))])))
    r = bad.get("/health", headers=ops)
    assert r.json()["degraded"] and r.json()["checks"] == [
        {"name": "broken", "ok": False, "detail": "ConnectionError"}]


@pytest.mark.slow
def test_installed_distribution_is_discovered_by_entry_point(tmp_path):
    """A third-party distribution with an `ekita.plugins` entry point is found and loaded."""
    dist = tmp_path / "acme_dist"
    (dist / "acme_ekita").mkdir(parents=True)
    (dist / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "acme-ekita"
        version = "0.1.0"
        [project.entry-points."ekita.plugins"]
        acme = "acme_ekita"
        [tool.setuptools]
        packages = ["acme_ekita"]
    """))
    (dist / "acme_ekita" / "__init__.py").write_text(textwrap.dedent("""
        from ekita.hub import AdapterRegistration, hookimpl

        @hookimpl
        def register_adapters():
            return [AdapterRegistration(name="acme", version="0.1.0", summary="Acme")]
    """))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(dist)], check=True)
    probe = ("from ekita.hub.plugins import load_plugins; from ekita.hub.config import Settings;"
             "p = load_plugins(Settings()); print(p.adapters['acme'].plugin)")
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "acme"


def test_hook_register_jobs(engine):
    """Jobs are typed records; the scheduler runs them with a session and their run record."""
    from datetime import UTC, datetime

    from ekita.core.models.exchange import JobRun
    from ekita.hub.delivery.scheduler import Scheduler
    from ekita.hub.registrations import JobRegistration

    def count(ctx) -> None:
        ctx.run.records_in = 7

    extra = plugin(register_jobs=lambda settings: [
        JobRegistration(name="acme.count", summary="counts", run=count)])
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        schedules={"acme.count": "0 2 * * *"})
    loaded = load_plugins(settings, extra=[("acme_plugin", extra)])
    assert loaded.jobs["acme.count"].plugin == "acme_plugin"
    assert loaded.jobs["placement.tick"].default_schedule  # the built-in placement job
    (run,) = [r for r in Scheduler(engine, loaded, settings, "t").tick(
        datetime(2027, 5, 1, 1, 0, 5, tzinfo=UTC)) if r.job == "acme.count"]
    assert run.records_in == 7
    with work(engine) as s:
        assert s.get_one(JobRun, run.id).status == "succeeded"
    twice = plugin(register_jobs=lambda settings: [
        JobRegistration(name="acme.count", summary="again", run=count)])
    with pytest.raises(PluginError, match=r"acme\.count"):
        load_plugins(settings, extra=[("acme_plugin", extra), ("other", twice)])


def test_hook_registry_recheck(engine):
    """The placement job's re-check callback reaches every plugin's registry_recheck."""
    from datetime import date

    from ekita.hub.placement_jobs import recheck_via

    calls: list[tuple[object, list[int], date]] = []
    extra = plugin(registry_recheck=lambda session, application_ids, on: calls.append(
        (session, application_ids, on)))
    loaded = load_plugins(Settings(), extra=[("acme_plugin", extra)])
    with work(engine) as s:
        recheck_via(loaded.manager.hook)(s, [3, 4], date(2027, 1, 15))
    assert calls == [(s, [3, 4], date(2027, 1, 15))]


def test_hook_domain_events(engine):
    """The events.relay job hands each domain event once, in order, in one transaction."""
    from datetime import UTC, date, datetime

    from sqlalchemy import select

    from ekita.core.models.events import DomainEvent
    from ekita.core.models.exchange import Cursor, JobRun, OutboxMessage
    from ekita.core.outbox import declare_recipient, enqueue
    from ekita.hub.delivery.scheduler import Scheduler

    seen: list[int] = []
    broken = {"on": False}

    def domain_events(session, events) -> None:
        if broken["on"]:
            raise RuntimeError("peer mapping missing")
        for event in events:
            seen.append(event.id)
            enqueue(session, adapter="acme", operation=event.kind, business_key=str(event.id),
                    payload={"application_id": event.application_id})

    def add_events(n: int) -> None:
        with work(engine) as s:
            s.add_all(DomainEvent(kind="ContractSigned", application_id=i, facility_id=1,
                                  payload={}, occurred_on=date(2027, 1, 1), actor="t")
                      for i in range(n))
            s.commit()

    extra = plugin(domain_events=domain_events)
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        load_plugins=["relay", "acme_plugin"])
    loaded = load_plugins(settings, extra=[("acme_plugin", extra)])
    declare_recipient("acme", set())
    scheduler = Scheduler(engine, loaded, settings, "t")
    add_events(3)
    scheduler.tick(datetime(2027, 1, 1, 10, 0, 30, tzinfo=UTC))
    add_events(2)
    broken["on"] = True
    (failed,) = scheduler.tick(datetime(2027, 1, 1, 10, 1, 30, tzinfo=UTC))
    assert failed.status == "failed"
    broken["on"] = False
    scheduler.tick(datetime(2027, 1, 1, 10, 2, 30, tzinfo=UTC))
    scheduler.tick(datetime(2027, 1, 1, 10, 3, 30, tzinfo=UTC))
    assert seen == [1, 2, 3, 4, 5]
    with work(engine) as s:
        assert s.scalar(select(Cursor.position)) == 5
        assert len(s.scalars(select(OutboxMessage)).all()) == 5
        runs = s.scalars(select(JobRun.records_in).order_by(JobRun.id)).all()
    assert runs == [3, 0, 2, 0]


def test_hook_register_carrier_profiles():
    """A plugin adds a carrier format (interfaces.md §9) that the carrier adapter finds."""
    from ekita.hub.registrations import CarrierProfileRegistration
    from ekita.plugins.carrier_export import registered_profiles

    extra = types.ModuleType("acme_carrier")
    toml = 'name = "acme-pipe"\nformat = "csv"\ndelimiter = "|"\n'
    extra.register_carrier_profiles = hookimpl(
        lambda: [CarrierProfileRegistration(name="acme-pipe", toml=toml)])
    loaded = load_plugins(Settings(load_plugins=["carrier_export", "acme_carrier"]),
                          extra=[("acme_carrier", extra)])
    profiles = registered_profiles(loaded.manager.hook)
    assert profiles["acme-pipe"].delimiter == "|"
    assert "hub-xml" in profiles and not profiles["hub-xml"].verified


def test_hook_configure():
    """configure runs once per load_plugins, with the effective settings, before use."""
    seen: list[Settings] = []
    extra = plugin(configure=lambda settings: seen.append(settings))
    settings = Settings(timezone="Europe/Berlin")
    load_plugins(settings, extra=[("acme_plugin", extra)])
    assert seen == [settings]


def test_hook_demo(engine):
    """Plugins show their exchange in the demo; a failing step is one line, the demo goes on."""
    from datetime import date

    from rich.console import Console

    from ekita.hub.cli.demo import run_plugin_demos

    def good(engine, today, console) -> None:
        console.print(f"acme talked to its peer on {today}")

    def bad(engine, today, console) -> None:
        raise ConnectionError("peer down")

    loaded = load_plugins(Settings(load_plugins=["acme_plugin", "broken"]), extra=[
        ("acme_plugin", plugin(demo=good)), ("broken", plugin(demo=bad))])
    console = Console(record=True, width=200)
    run_plugin_demos(loaded, engine, date(2026, 11, 1), console)
    text = console.export_text()
    assert "acme talked to its peer on 2026-11-01" in text
    assert "broken: demo step failed (ConnectionError: peer down)" in text
    assert "Traceback" not in text
