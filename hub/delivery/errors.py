"""How an adapter tells the worker what went wrong with one delivery.

Raise ``TransientError`` when trying again later may succeed (peer down, timeout,
HTTP 5xx/429) and ``PermanentError`` when it cannot (the peer rejected the content).
Any other exception counts as transient, so a bug never loses a message: after the
last attempt it lands in the dead-letter queue with its reason.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base of the delivery errors; the message is stored as the attempt's reason."""


class TransientError(DeliveryError):
    """Retry with backoff, up to the adapter's ``max_attempts``."""


class PermanentError(DeliveryError):
    """Do not retry: the message goes to the dead-letter queue at once."""
