"""Capped exponential backoff with full jitter for the errors AWS asks callers to retry."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

# Throttling (several spellings across services) and StackSets' "another operation is
# running / your request raced another": all clear by themselves if the caller waits.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "OperationInProgressException",
        "StaleRequestException",
    }
)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


@dataclass(frozen=True)
class Pacing:
    """How long to wait: retries (backoff) and operation polling. Tests shrink it."""

    base_s: float = 0.5
    cap_s: float = 20.0
    attempts: int = 8
    poll_first_s: float = 0.0
    poll_min_s: float = 1.0  # never more than one describe call per second per operation
    poll_max_s: float = 15.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    jitter: Callable[[], float] = field(default=random.random)

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""
        return float(self.jitter() * min(self.cap_s, self.base_s * 2**attempt))

    def poll_delays(self) -> Any:
        yield self.poll_first_s
        delay = self.poll_min_s
        while True:
            yield delay
            delay = min(self.poll_max_s, delay * 2)


def call(pacing: Pacing, function: Callable[..., T], **kwargs: Any) -> T:
    """`function(**kwargs)`, retried on RETRYABLE_CODES up to `pacing.attempts` times."""
    for attempt in range(pacing.attempts):
        try:
            return function(**kwargs)
        except ClientError as exc:
            if error_code(exc) not in RETRYABLE_CODES or attempt == pacing.attempts - 1:
                raise
            pacing.sleep(pacing.backoff(attempt))
    raise AssertionError("unreachable")  # the loop returns or raises
