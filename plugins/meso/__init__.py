"""Resident registry (MESO) address check over SOAP.

Not built yet: this package registers the adapter's name, so its configuration
section is known; see README.md for what it will do.
"""

from ekita.hub import hookimpl
from ekita.hub.registrations import planned

register_adapters = hookimpl(
    planned(
        "meso",
        "Resident registry (MESO) address check over SOAP",
        {"birth_date", "family_name", "first_names", "house_no", "postcode", "street", "town"},
    )
)
