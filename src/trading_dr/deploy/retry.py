"""Capped exponential backoff with full jitter for the errors AWS asks callers to retry.

What is retryable is botocore's standard retry mode's own classification (its
`TransientRetryableChecker` and `ThrottledRetryableChecker`: HTTP 500/502/503/504,
`RequestTimeout`, throttling codes such as `SlowDown`, dropped connections and read
timeouts) plus StackSets' "another operation is running / your request raced another".
The retries happen here rather than inside botocore so that the waits follow `Pacing`
(tests shrink them), a write keeps its operation id across attempts, and every attempt
is counted. A call that is not idempotent (`call_not_idempotent`: a Lambda invocation
that applies migrations) is retried only when AWS refused it before running it (throttling):
after a 5xx or a lost connection it may have run, so it is reported instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from botocore.parsers import ResponseParserError
from botocore.retries.standard import (
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

T = TypeVar("T")

# StackSets' own: clear by themselves once the other operation ends.
STACK_SET_CODES = frozenset({"OperationInProgressException", "StaleRequestException"})
# Kept for callers that list what is retried besides the transient errors.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        *STACK_SET_CODES,
    }
)
# Nothing reached the endpoint (refused, unresolvable, connect timeout): botocore's default
# of 3 attempts, so a wrong --endpoint-url is reported in about a second, not a minute.
CONNECT_ATTEMPTS = 3

_TRANSIENT = TransientRetryableChecker()
_THROTTLED = ThrottledRetryableChecker()


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _context(exc: Exception) -> RetryContext:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return RetryContext(
            attempt_number=1,
            parsed_response=exc.response,
            http_response=SimpleNamespace(status_code=status) if status else None,
        )
    return RetryContext(attempt_number=1, caught_exception=exc)


def is_throttled(exc: Exception) -> bool:
    """Refused before it ran: safe to repeat even a call that is not idempotent."""
    return error_code(exc) in RETRYABLE_CODES or bool(_THROTTLED.is_retryable(_context(exc)))


def is_transient(exc: Exception) -> bool:
    """5xx, RequestTimeout, a dropped connection or read timeout: may or may not have run.
    An answer that is not the service's (a proxy's HTML error page) counts too: botocore
    says of it "Further retries may succeed"."""
    if isinstance(exc, ResponseParserError):
        return True
    return bool(_TRANSIENT.is_retryable(_context(exc)))


def attempts_for(exc: Exception, idempotent: bool, attempts: int) -> int:
    """How many attempts in all `exc` deserves (1: not retryable)."""
    if is_throttled(exc):
        return attempts
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return CONNECT_ATTEMPTS  # nothing was sent: safe even when not idempotent
    if idempotent and is_transient(exc):
        return attempts
    return 1


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
    """`function(**kwargs)`, retried on throttling, StackSets' in-progress errors and
    transient errors, up to `pacing.attempts` attempts in all."""
    return _attempt(pacing, function, True, kwargs)


def call_not_idempotent(pacing: Pacing, function: Callable[..., T], **kwargs: Any) -> T:
    """Like `call`, but repeated only when AWS refused it before running it (throttling):
    after a 5xx or a lost connection it may have run, so the error is raised."""
    return _attempt(pacing, function, False, kwargs)


def _attempt(pacing: Pacing, function: Callable[..., T], idempotent: bool, kwargs: Any) -> T:
    attempt = 0
    while True:
        try:
            return function(**kwargs)
        except Exception as exc:
            if attempt + 1 >= attempts_for(exc, idempotent, pacing.attempts):
                raise
        pacing.sleep(pacing.backoff(attempt))
        attempt += 1
