"""DOMEA document archive (xdomea).

Not built yet: this package registers the adapter's name, so its configuration
section is known; see README.md for what it will do.
"""

from ekita.hub import hookimpl
from ekita.hub.registrations import planned

register_adapters = hookimpl(
    planned(
        "domea",
        "DOMEA document archive (xdomea)",
    )
)
