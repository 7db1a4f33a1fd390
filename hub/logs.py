"""Logging set-up that keeps personal data out of the logs (issue 12 item 8).

The hub's own log lines name ids, adapters and error types, never a person. The client
libraries the adapters use are chattier: httpx logs every request URL with its query
string at INFO (KIS street searches: addresses), urllib3 the request line at DEBUG, zeep
whole SOAP envelopes at DEBUG (MESO: names, birth dates, addresses). Their loggers stay at
``transport_log_level`` (default WARNING) whatever the hub's own level; lowering it is for
debugging against test data only.
"""

from __future__ import annotations

import logging

#: Loggers of HTTP/SOAP client libraries that print URLs, headers or bodies below WARNING.
TRANSPORT_LOGGERS = ("httpx", "httpcore", "urllib3", "requests", "zeep", "zeep.transports",
                     "zeep.wsdl", "zeep.xsd")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def quiet_transports(level: str | int = "WARNING") -> None:
    """Hold the client libraries' loggers at ``level``, apart from the root's level."""
    for name in TRANSPORT_LOGGERS:
        logging.getLogger(name).setLevel(level)


def configure(level: str, transport_level: str = "WARNING") -> None:
    """The process's logging: the hub at ``level``, the client libraries at theirs."""
    logging.basicConfig(level=level, format=FORMAT)
    quiet_transports(transport_level)
