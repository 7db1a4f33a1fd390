"""E-KITA domain: master data, people, contracts and the rules on them.

Pure domain logic and persistence. Nothing here speaks HTTP or SOAP; the hub
(``ekita.hub``) exposes it and the plugins (``ekita.plugins.*``) connect it to
the city's systems.
"""
