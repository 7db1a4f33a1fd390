"""The hub: plugin manager and hooks, configuration, API and command line.

Plugins import their marker (pluggy project name ``ekita``) from here::

    from ekita.hub import hookimpl
"""

from ekita.hub.hookspecs import hookimpl, hookspec
from ekita.hub.registrations import AdapterRegistration, AdapterSettings, HealthResult

__all__ = [
    "AdapterRegistration",
    "AdapterSettings",
    "HealthResult",
    "hookimpl",
    "hookspec",
]
