"""Carrier CSV/XML/Excel export and import.

Not built yet: this package registers the adapter's name, so its configuration
section is known; see README.md for what it will do.
"""

from ekita.hub import hookimpl
from ekita.hub.registrations import planned

register_adapters = hookimpl(
    planned(
        "carrier_export",
        "Carrier CSV/XML/Excel export and import",
        {
            "birth_date",
            "family_name",
            "first_name",
            "house_no",
            "pkn",
            "postcode",
            "sex",
            "street",
            "town",
        },
    )
)
