"""Retries: what is retried (botocore standard mode's classification), how often, and
that a full rollout survives the transient errors AWS documents, injected by the local AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from tests.trading_dr.local_aws.fixtures import FAST, make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.retry import CONNECT_ATTEMPTS, attempts_for, call, call_not_idempotent
from trading_dr.deploy.rollout import deploy
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "AnyOperation")


ALL = FAST.attempts
# (case, exception, attempts when idempotent, attempts when not)
# fmt: off
CASES: list[tuple[str, Exception, int, int]] = [
    ("throttling", client_error("Throttling", 400), ALL, ALL),
    ("lambda-throttled", client_error("TooManyRequestsException", 429), ALL, ALL),
    ("s3-slow-down", client_error("SlowDown", 503), ALL, ALL),
    ("operation-in-progress", client_error("OperationInProgressException", 409), ALL, ALL),
    ("stale-request", client_error("StaleRequestException", 409), ALL, ALL),
    ("internal-failure-500", client_error("InternalFailure", 500), ALL, 1),
    ("service-unavailable-503", client_error("ServiceUnavailable", 503), ALL, 1),
    ("bad-gateway-502", client_error("502", 502), ALL, 1),
    ("request-timeout", client_error("RequestTimeout", 400), ALL, 1),
    ("dropped-connection", ConnectionClosedError(endpoint_url="http://x"), ALL, 1),
    ("read-timeout", ReadTimeoutError(endpoint_url="http://x"), ALL, 1),
    ("proxy-html-page", ResponseParserError("invalid XML received"), ALL, 1),
    ("nothing-listening", EndpointConnectionError(endpoint_url="http://x"),
     CONNECT_ATTEMPTS, CONNECT_ATTEMPTS),
    ("validation-error", client_error("ValidationError", 400), 1, 1),
    ("access-denied", client_error("AccessDenied", 403), 1, 1),
    ("not-found", client_error("StackSetNotFoundException", 404), 1, 1),
    ("a-bug", KeyError("x"), 1, 1),
]
# fmt: on


@pytest.mark.parametrize(
    ("exc", "idempotent_attempts", "other_attempts"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_what_is_retried_and_how_often(
    exc: Exception, idempotent_attempts: int, other_attempts: int
) -> None:
    assert attempts_for(exc, True, ALL) == idempotent_attempts
    assert attempts_for(exc, False, ALL) == other_attempts

    for caller, expected in ((call, idempotent_attempts), (call_not_idempotent, other_attempts)):
        tries: list[int] = []
        with pytest.raises(type(exc)):
            caller(FAST, _always(exc, tries))
        assert len(tries) == expected


def _always(exc: Exception, tries: list[int]) -> Callable[[], None]:
    def function() -> None:
        tries.append(1)
        raise exc

    return function


def test_a_transient_error_then_success_returns_the_answer() -> None:
    answers: list[Any] = [client_error("InternalFailure", 500), "done"]

    def flaky() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert call(FAST, flaky) == "done"


def test_rollout_survives_transient_errors_of_the_local_aws(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN the local AWS answers one of each transient error while the rollout polls/writes
    faults.set_operation_seconds(0.05)
    faults.fail_call("DescribeStackSetOperation", "InternalFailure", "We encountered an error")
    faults.fail_call("DescribeStackSetOperation", "ServiceUnavailable", "Service unavailable")
    faults.fail_call("ListStackInstances", "RequestTimeout", "request timed out")
    faults.fail_call("DescribeStackSet", faults.DROP_CONNECTION, "dropped")
    faults.fail_call("CreateStackInstances", "InternalFailure", "We encountered an error")
    faults.fail_call("DescribeStacks", "ServiceUnavailable", "Service unavailable")
    dep = make_deployment(local_aws, prod, prod_files)

    # WHEN it deploys
    results = deploy(dep)

    # THEN every stage completes, and the failed attempts were repeated
    assert [r.status for r in results] == [
        "created", "created", "created", "unchanged", "created", "created", "updated",
    ]  # fmt: skip
    assert dep.clients.counter.calls["CreateStackInstances"] == 4 + 1  # 4 stages, 1 retry
