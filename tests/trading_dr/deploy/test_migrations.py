"""The migrate step's decisions (deploy/migrations.py) against a fake Lambda client."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from trading_dr.deploy import migrations
from trading_dr.deploy.retry import Pacing

FAST = Pacing(base_s=0.0, cap_s=0.0, sleep=lambda _: None)
FUNCTION = "trading-prod-migrate"
PENDING: dict[str, Any] = {
    "status": "ok",
    "pending": ["0001_trades", "0002_app_user"],
    "applied": [],
}
NOTHING_PENDING: dict[str, Any] = {"status": "ok", "pending": [], "applied": ["0001_trades"]}
APPLIED: dict[str, Any] = {
    "status": "ok",
    "applied": ["0001_trades", "0002_app_user"],
    "already_applied": [],
}


class FakeLambda:
    """Answers each Invoke with the next scripted response; records the requests."""

    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response  # type: ignore[no-any-return]

    @property
    def actions(self) -> list[str]:
        return [json.loads(r["Payload"])["action"] for r in self.requests]


def answer(payload: Any, function_error: str | None = None) -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(raw)}
    if function_error:
        response["FunctionError"] = function_error
    return response


def test_pending_migrations_are_applied() -> None:
    # GIVEN a function reporting two pending migrations
    client = FakeLambda(answer(PENDING), answer(APPLIED))

    # WHEN the step runs
    outcome = migrations.migrate(client, FAST, FUNCTION)

    # THEN it asked for the status, then applied, synchronously, and reports both
    assert outcome == migrations.Outcome(
        "updated", pending=PENDING["pending"], applied=APPLIED["applied"]
    )
    assert client.actions == ["status", "apply"]
    assert {(r["FunctionName"], r["InvocationType"]) for r in client.requests} == {
        (FUNCTION, "RequestResponse")
    }


def test_nothing_pending_is_unchanged_without_an_apply() -> None:
    # GIVEN a function with nothing pending
    client = FakeLambda(answer(NOTHING_PENDING))

    # WHEN the step runs, THEN it is unchanged and only the status was asked
    assert migrations.migrate(client, FAST, FUNCTION) == migrations.Outcome("unchanged")
    assert client.actions == ["status"]


def test_plan_reads_the_status_only() -> None:
    # GIVEN pending migrations
    client = FakeLambda(answer(PENDING))

    # WHEN planned, THEN the plan says update and nothing is applied
    assert migrations.plan(client, FAST, FUNCTION) == migrations.Outcome(
        "update", pending=PENDING["pending"]
    )
    assert client.actions == ["status"]


def test_function_error_on_apply_fails_with_its_message() -> None:
    # GIVEN an apply that raises in the function
    error = {"errorMessage": "0003_broken: syntax error at or near ...", "errorType": "Error"}
    client = FakeLambda(answer(PENDING), answer(error, "Unhandled"))

    # WHEN the step runs
    outcome = migrations.migrate(client, FAST, FUNCTION)

    # THEN it failed, naming the function, the action and the function's message
    assert outcome.status == "failed"
    assert outcome.reason == f"{FUNCTION} (apply): 0003_broken: syntax error at or near ..."
    assert outcome.applied == []


def test_function_error_on_status_fails_before_any_apply() -> None:
    # GIVEN a status that fails (e.g. an applied file was edited), its payload not JSON
    client = FakeLambda(answer(b"Task timed out after 300.00 seconds", "Unhandled"))

    # WHEN the step runs, THEN it fails with the raw message and never applies
    outcome = migrations.migrate(client, FAST, FUNCTION)
    assert outcome == migrations.Outcome(
        "failed", reason=f"{FUNCTION} (status): Task timed out after 300.00 seconds"
    )
    assert client.actions == ["status"]


@pytest.mark.parametrize(
    "payload",
    [b"not json", {"action": "status"}, {"status": "ok", "pending": "0001"}, ["0001"]],
)
def test_unparsable_answer_fails(payload: Any) -> None:
    # GIVEN a function answering something that is not its status result
    client = FakeLambda(answer(payload))

    # WHEN the step runs, THEN it fails saying what came back
    outcome = migrations.migrate(client, FAST, FUNCTION)
    assert outcome.status == "failed"
    assert outcome.reason.startswith(f"{FUNCTION} (status): unexpected answer ")


def test_throttled_invoke_is_retried() -> None:
    # GIVEN an invoke throttled once
    throttled = ClientError(
        {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke"
    )
    client = FakeLambda(throttled, answer(NOTHING_PENDING))

    # WHEN the step runs, THEN the retry answers it
    assert migrations.migrate(client, FAST, FUNCTION).status == "unchanged"
    assert len(client.requests) == 2
