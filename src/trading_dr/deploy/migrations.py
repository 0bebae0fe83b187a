"""The rollout's migrate step: the primary's migrate function applies pending SQL migrations.

The function (output `MigrateFunctionName` of the primary stack, the writer region) is
first asked `{"action": "status"}`, a read; only if migrations are pending is it asked
`{"action": "apply"}`. So a re-run with nothing pending writes nothing, and a failed
apply is resumed by the next rollout (the status still lists what is pending).
A FunctionError, or a payload that is not the function's answer, fails the step with
the function's own message.

A synchronous Invoke holds the connection until the function returns or reaches its own
timeout (up to 900 s, Lambda API reference, Invoke), so the client that invokes it
waits longer than the function may run (`invoke_client`: its configured Timeout plus
INVOKE_MARGIN_S), and an invocation is never repeated by the SDK (total_max_attempts=1)
or by a read timeout: a migration that may still be running is reported, not restarted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ReadTimeoutError

from trading_dr.deploy.aws import Clients
from trading_dr.deploy.retry import Pacing, call, call_not_idempotent

OUTPUT = "MigrateFunctionName"
# Beyond the function's own timeout: Lambda's queueing, a cold start and the way back.
INVOKE_MARGIN_S = 60


class MigrationError(Exception):
    """The function failed or answered something that is not its result."""


@dataclass(frozen=True)
class Outcome:
    status: str  # deploy: unchanged | updated | failed; plan: unchanged | update | failed
    pending: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    reason: str = ""


def invoke_client(
    clients: Clients, pacing: Pacing, region: str, account: str, function: str
) -> Any:
    """A Lambda client whose read timeout outlasts `function`'s configured timeout."""
    lookup = clients.client("lambda", region, account)
    timeout = int(call(pacing, lookup.get_function_configuration, FunctionName=function)["Timeout"])
    return clients.client("lambda", region, account, read_timeout=timeout + INVOKE_MARGIN_S)


def invoke(lambda_client: Any, pacing: Pacing, function: str, action: str) -> dict[str, Any]:
    """Invoke `function` synchronously with `{"action": action}`; its parsed answer."""
    try:
        # Never repeated after a 5xx, a lost connection or a read timeout: it may have run
        # (only a throttled invocation, refused before running, is tried again).
        response = call_not_idempotent(
            pacing,
            lambda_client.invoke,
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps({"action": action}).encode(),
        )
    except ReadTimeoutError as exc:
        raise MigrationError(
            f"{function} ({action}): no answer within the client's read timeout ({exc}); the "
            "invocation was not repeated and may still be running: check the function's "
            "logs, then re-run (the status invoke lists what is still pending)"
        ) from exc
    raw = response["Payload"].read()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if response.get("FunctionError"):
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        raise MigrationError(f"{function} ({action}): {message or raw.decode(errors='replace')}")
    expected = ("pending", "applied") if action == "status" else ("applied",)
    if not (
        isinstance(answer, dict)
        and answer.get("status") == "ok"
        and all(isinstance(answer.get(key), list) for key in expected)
    ):
        shown = raw[:200].decode(errors="replace")
        raise MigrationError(f"{function} ({action}): unexpected answer {shown!r}")
    return answer


def plan(lambda_client: Any, pacing: Pacing, function: str) -> Outcome:
    """What `migrate` would do, read-only (the status invoke only)."""
    try:
        pending = [
            str(name) for name in invoke(lambda_client, pacing, function, "status")["pending"]
        ]
    except MigrationError as exc:
        return Outcome("failed", reason=str(exc))
    return Outcome("update" if pending else "unchanged", pending=pending)


def migrate(lambda_client: Any, pacing: Pacing, function: str) -> Outcome:
    """Apply the pending migrations, if any."""
    planned = plan(lambda_client, pacing, function)
    if planned.status != "update":
        return planned
    try:
        applied = invoke(lambda_client, pacing, function, "apply")["applied"]
    except MigrationError as exc:
        return Outcome("failed", pending=planned.pending, reason=str(exc))
    return Outcome("updated", pending=planned.pending, applied=[str(name) for name in applied])
