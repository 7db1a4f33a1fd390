"""How an adapter tells the worker what went wrong with one delivery.

Raise ``TransientError`` when trying again later may succeed (peer down, timeout,
HTTP 5xx/429) and ``PermanentError`` when it cannot (the peer rejected the content).
The peer-call subclasses below (``ekita.hub.peers``) say which kind a bad peer is.
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


# What can go wrong talking to a peer (``ekita.hub.peers``, issue 12 item 5). Each is one
# of the two kinds above, so the worker, the intake check and the KIS lookup all know
# whether trying again later can help.


class DeadlineExceeded(TransientError):
    """No complete answer within the call's total deadline (slow, hanging, dripping)."""


class PeerUnreachable(TransientError):
    """The connection was refused, reset or broken before an answer."""


class MalformedAnswer(TransientError):
    """The answer could not be read at all (not JSON/XML, nested too deep); it may be a
    proxy's error page, so a later try may get the real peer."""


class AnswerTooLarge(PermanentError):
    """The answer exceeded the size cap; reading stopped. No contract of ours answers that
    much, so repeating the call would only repeat the flood."""


class AnswerBreaksContract(PermanentError):
    """The answer was readable but has wrong types or misses keys the contract requires."""
