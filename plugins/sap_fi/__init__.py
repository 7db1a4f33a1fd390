"""SAP-FI debtors, monthly debits and arrears.

Not built yet: this package registers the adapter's name, so its configuration
section is known; see README.md for what it will do.
"""

from ekita.hub import hookimpl
from ekita.hub.registrations import planned

register_adapters = hookimpl(
    planned(
        "sap_fi",
        "SAP-FI debtors, monthly debits and arrears",
        {"family_name", "first_name", "house_no", "iban", "pkn", "postcode", "street", "town"},
    )
)
