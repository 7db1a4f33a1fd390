"""Test kits for plugin authors, importable from third-party distributions.

``ekita.hub.testing.carrier`` is the conformance kit for carrier exchange formats
(docs/carrier-exchange.md): subclass ``CarrierConformance`` in a class named ``Test…``,
set the profile and a golden file, and pytest runs the acceptance tests against a real,
migrated SQLite database.
"""

from ekita.hub.testing.carrier import CarrierConformance, KitWorld

__all__ = ["CarrierConformance", "KitWorld"]
