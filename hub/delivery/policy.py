"""The retry policy of one adapter, evaluated with tenacity's strategies.

Attempts are spread over hours and must survive restarts, so the worker does not
sleep inside a tenacity loop: it persists the attempt count and asks this policy, built
from tenacity's ``stop``/``wait``/``retry`` strategies, when the next attempt is due.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ekita.hub.config import RetryPolicy
from ekita.hub.delivery.errors import PermanentError


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay_s: float = 0.0


class AdapterRetry:
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait_exponential(multiplier=policy.backoff_initial_s, max=policy.backoff_max_s)
            + wait_random(0, policy.jitter_s),
            # Everything but a permanent error is worth another try: an adapter bug must
            # not lose a message before an operator has seen it in the dead letters.
            retry=retry_if_not_exception_type(PermanentError),
        )

    def after_failure(self, attempt: int, error: BaseException) -> Decision:
        """Whether attempt number ``attempt`` (1-based) that raised ``error`` is retried."""
        state = RetryCallState(self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        try:
            raise error
        except BaseException:
            state.set_exception(sys.exc_info())  # type: ignore[arg-type]
        if not self._retrying.retry(state) or self._retrying.stop(state):
            return Decision(retry=False)
        return Decision(retry=True, delay_s=float(self._retrying.wait(state)))
