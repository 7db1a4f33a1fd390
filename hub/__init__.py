"""The hub: plugin manager and hooks, configuration, API and command line.

Plugins import their marker (pluggy project name ``ekita``) from here::

    from ekita.hub import hookimpl
"""

from ekita.hub.delivery.errors import DeliveryError, PermanentError, TransientError
from ekita.hub.hookspecs import hookimpl, hookspec
from ekita.hub.registrations import (
    AdapterRegistration,
    AdapterSettings,
    Delivery,
    DeliveryReceipt,
    HealthResult,
    JobContext,
    JobRegistration,
)

__all__ = [
    "AdapterRegistration",
    "AdapterSettings",
    "Delivery",
    "DeliveryError",
    "DeliveryReceipt",
    "HealthResult",
    "JobContext",
    "JobRegistration",
    "PermanentError",
    "TransientError",
    "hookimpl",
    "hookspec",
]
