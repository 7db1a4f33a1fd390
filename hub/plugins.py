"""The plugin manager: built-in plugins and installed ones, registered the same way.

Built-ins are listed in ``DEFAULT_PLUGINS``; third-party distributions announce
modules in the entry-point group ``ekita.plugins``. ``EKITA_LOAD_PLUGINS``
(allow-list) and ``EKITA_DISABLED_PLUGINS`` (block-list) select among both by
plugin name: the short module name for built-ins, the entry-point name otherwise.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType

import pluggy

from ekita.core.outbox import declare_recipient
from ekita.hub import hookspecs
from ekita.hub.config import Settings, adapter_settings
from ekita.hub.registrations import AdapterRegistration, AdapterSettings, JobRegistration

ENTRY_POINT_GROUP = "ekita.plugins"
DEFAULT_PLUGINS = (
    "ekita.hub.placement_jobs",
    "ekita.hub.billing_jobs",
    "ekita.hub.delivery.relay",
    "ekita.plugins.meso",
    "ekita.plugins.kis",
    "ekita.plugins.sap_fi",
    "ekita.plugins.sap_co",
    "ekita.plugins.domea",
    "ekita.plugins.octoware",
    "ekita.plugins.carrier_export",
)


class PluginError(Exception):
    """A plugin cannot be loaded or clashes with another one."""


@dataclass(frozen=True)
class LoadedPlugins:
    manager: pluggy.PluginManager
    adapters: dict[str, AdapterRegistration]
    adapter_settings: dict[str, AdapterSettings]
    jobs: dict[str, JobRegistration]

    def names(self) -> list[str]:
        return sorted(name for name, _ in self.manager.list_name_plugin())


def _wanted(name: str, settings: Settings) -> bool:
    if name in settings.disabled_plugins:
        return False
    return settings.load_plugins is None or name in settings.load_plugins


def _candidates() -> list[tuple[str, str | ModuleType]]:
    found: list[tuple[str, str | ModuleType]] = [(m.rsplit(".", 1)[1], m) for m in DEFAULT_PLUGINS]
    found += [(ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return found


def build_manager(settings: Settings, extra: list[tuple[str, object]] = ()) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, target in [*_candidates(), *extra]:
        if not _wanted(name, settings):
            continue
        if pm.has_plugin(name):
            raise PluginError(f"plugin name {name!r} is used twice")
        try:
            module = importlib.import_module(target) if isinstance(target, str) else target
            pm.register(module, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r}: {exc}") from None
        except ImportError as exc:
            raise PluginError(f"plugin {name!r} cannot be imported: {exc}") from None
    try:
        pm.check_pending()  # every @hookimpl must match a hook spec
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from None
    return pm


def collect_adapters(pm: pluggy.PluginManager) -> dict[str, AdapterRegistration]:
    adapters: dict[str, AdapterRegistration] = {}
    for impl in pm.hook.register_adapters.get_hookimpls():
        for reg in impl.function() or ():
            if not isinstance(reg, AdapterRegistration):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} returned {type(reg).__name__}, "
                    "not an AdapterRegistration"
                )
            if reg.name in adapters:
                raise PluginError(
                    f"adapter {reg.name!r} is registered by both "
                    f"{adapters[reg.name].plugin!r} and {impl.plugin_name!r}"
                )
            adapters[reg.name] = AdapterRegistration(**{**reg.__dict__, "plugin": impl.plugin_name})
    return adapters


def collect_jobs(pm: pluggy.PluginManager, settings: Settings) -> dict[str, JobRegistration]:
    jobs: dict[str, JobRegistration] = {}
    for impl in pm.hook.register_jobs.get_hookimpls():
        for reg in impl.function(settings=settings) or ():
            if not isinstance(reg, JobRegistration):
                raise PluginError(f"plugin {impl.plugin_name!r} returned "
                                  f"{type(reg).__name__}, not a JobRegistration")
            if reg.name in jobs:
                raise PluginError(f"job {reg.name!r} is registered by both "
                                  f"{jobs[reg.name].plugin!r} and {impl.plugin_name!r}")
            jobs[reg.name] = JobRegistration(**{**reg.__dict__, "plugin": impl.plugin_name})
    return jobs


def load_plugins(settings: Settings, extra: list[tuple[str, object]] = ()) -> LoadedPlugins:
    """Load, check and configure every wanted plugin; raise PluginError or ConfigError.

    Every enabled adapter becomes a permitted recipient of outbox messages with the
    personal fields it declared (data-protection M4, M6); a disabled one receives nothing.
    """
    pm = build_manager(settings, extra)
    adapters = collect_adapters(pm)
    configured = adapter_settings(settings, adapters)
    for name, reg in adapters.items():
        section = settings.adapters.get(name)
        if section is None or section.enabled:
            declare_recipient(name, reg.personal_fields)
    pm.hook.configure(settings=settings)
    return LoadedPlugins(pm, adapters, configured, collect_jobs(pm, settings))

