"""`trading-dr failover`: start the failover workflow in the recovery region and follow it.

The workflow (Step Functions, see trading_dr/resources/failover/) always moves the writer to its
own region, so the region chosen (`--to`, default the secondary) is the recovery region.
The command calls only that region's endpoints, as it must work while the other region
is down: regional STS for the account, the state machine by its deterministic ARN
(`trading-<env>-failover` in that region and account), never the StackSets
administration region (`Deployment.clients` is made with `sts_region` = that region).

Input `{"mode": "planned"}` for a drill (switchover, no data loss), `"unplanned"`
(failover with AllowDataLoss; `"accept_data_loss": true` with --accept-data-loss) or
`"release"` (lift the fence this region holds, before a failback). The execution name
is made once, so a retried StartExecution (throttling) cannot start a second one. The
execution is then followed to its end: history pages are read with the same backoff as
stack set operations (at most one call per second), each state entered/exited printed
with its timestamp.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from trading_dr.config import Environment, Role
from trading_dr.deploy.aws import Clients
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.plan import stages
from trading_dr.deploy.retry import call, error_code
from trading_dr.errors import OperationFailedError

END_EVENTS = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}
)


def state_machine_name(suffix: str) -> str:
    """As failover.state_machine_name names it: trading-<env>-failover."""
    return f"trading-{suffix}-failover"


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def recovery_region(env: Environment, role: Role) -> str:
    """The region the writer moves to: `role`'s region."""
    return next(s.region for s in stages(env) if s.role is role)


def state_machine_arn(
    clients: Clients, region: str, suffix: str, account: str | None = None
) -> str:
    """The workflow's ARN in `region`, from its deterministic name and the account
    (default the caller's, from regional STS) alone."""
    return (
        f"arn:{clients.partition()}:states:{region}:{account or clients.caller_account()}:"
        f"stateMachine:{state_machine_name(suffix)}"
    )


def find_state_machine(dep: Deployment, role: Role) -> str:
    """The ARN of the workflow in `role`'s region, by its deterministic name.

    Only that region's endpoints are used (STS there for the account, then
    DescribeStateMachine there): the stack outputs would need the StackSets
    administration region, which is the region that failed in the case this exists for.
    """
    region = recovery_region(dep.env, role)
    clients = dep.clients
    name = state_machine_name(dep.env.suffix)
    # The environment's account (the deployer's single target account): the credentials
    # must be that account's, except against a local AWS on this machine, where the
    # deployer reaches the environment's account from moto's default one.
    account = dep.env.accounts[0]
    clients.require_account(account)
    arn = state_machine_arn(clients, region, dep.env.suffix, account)
    sfn = clients.client("stepfunctions", region, account)
    try:
        call(dep.pacing, sfn.describe_state_machine, stateMachineArn=arn)
    except ClientError as exc:
        if error_code(exc) != "StateMachineDoesNotExist":
            raise
        raise OperationFailedError(
            f"no failover workflow in {region}: no state machine named {name} in account "
            f"{account}; fix: deploy first (trading-dr deploy), or check "
            "--env and the credentials' account"
        ) from exc
    return arn


@dataclass
class Event:
    timestamp: str
    kind: str  # entered | exited | failed | started | succeeded | ...
    state: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.timestamp} {self.kind:<9} {self.state} {self.detail}".rstrip()


@dataclass
class Execution:
    state_machine_arn: str
    execution_arn: str
    region: str
    mode: str
    status: str = "RUNNING"
    events: list[Event] = field(default_factory=list)
    failed_state: str | None = None
    error: str | None = None
    cause: str | None = None
    duration_s: float = 0.0
    outcome: str | None = None  # the workflow's own summary (result.outcome) on success

    def as_json(self) -> dict[str, Any]:
        return {
            "state_machine_arn": self.state_machine_arn,
            "execution_arn": self.execution_arn,
            "region": self.region,
            "mode": self.mode,
            "status": self.status,
            "failed_state": self.failed_state,
            "error": self.error,
            "cause": self.cause,
            "duration_s": round(self.duration_s, 3),
            "outcome": self.outcome,
            "events": [e.__dict__ for e in self.events],
        }


def _stamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return str(value)


def to_event(raw: dict[str, Any]) -> Event | None:
    """A history event worth showing, or None (task scheduling noise)."""
    kind = str(raw["type"])
    stamp = _stamp(raw.get("timestamp"))
    if kind.endswith("StateEntered"):
        return Event(stamp, "entered", raw["stateEnteredEventDetails"]["name"])
    if kind.endswith("StateExited"):
        return Event(stamp, "exited", raw["stateExitedEventDetails"]["name"])
    if kind.endswith("Failed") or kind.endswith("TimedOut"):
        details: dict[str, Any] = (
            next((v for k, v in raw.items() if k.endswith("EventDetails")), {}) or {}
        )
        detail = f"{details.get('error', '')}: {details.get('cause', '')}".strip(": ")
        return Event(stamp, "failed", kind.removesuffix("Failed"), detail)
    if kind.startswith("Execution"):
        return Event(stamp, kind.removeprefix("Execution").lower(), "execution")
    return None


def _failure_from_history(history: list[dict[str, Any]]) -> tuple[str | None, str, str]:
    """(failed state, error, cause): the workflow's catch handlers hand `$.failure`
    ({state, error, cause}) to NotifyFailure; otherwise the last failed task event."""
    for raw in reversed(history):
        entered = raw.get("stateEnteredEventDetails")
        if entered and entered.get("input"):
            try:
                data = json.loads(entered["input"])
            except ValueError:
                continue
            failure = data.get("failure") if isinstance(data, dict) else None
            if isinstance(failure, dict) and failure.get("state"):
                return str(failure["state"]), str(failure.get("error")), str(failure.get("cause"))
    last_state: str | None = None
    error = cause = ""
    for raw in history:
        if raw.get("stateEnteredEventDetails"):
            last_state = raw["stateEnteredEventDetails"]["name"]
        kind = str(raw["type"])
        if kind.endswith("Failed") and kind != "ExecutionFailed":
            found: dict[str, Any] = (
                next((v for k, v in raw.items() if k.endswith("EventDetails")), {}) or {}
            )
            error, cause = str(found.get("error", "")), str(found.get("cause", ""))
    return last_state, error, cause


def _outcome(output: Any) -> str | None:
    """The workflow states what it did in `result.outcome` (no change, stopped, failed over)."""
    try:
        data = json.loads(output) if isinstance(output, str) else None
    except ValueError:
        return None
    result = data.get("result") if isinstance(data, dict) else None
    outcome = result.get("outcome") if isinstance(result, dict) else None
    return outcome if isinstance(outcome, str) else None


def start(dep: Deployment, machine_arn: str, mode: str, *, accept_data_loss: bool = False) -> str:
    region = machine_arn.split(":")[3]
    sfn = dep.clients.client("stepfunctions", region, _account_of(machine_arn))
    name = f"trading-dr-{mode}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    answer = call(
        dep.pacing,
        sfn.start_execution,
        stateMachineArn=machine_arn,
        name=name,
        input=json.dumps(
            {"mode": mode, "trigger": "trading-dr-cli"}
            | ({"accept_data_loss": True} if accept_data_loss else {})
        ),
    )
    return str(answer["executionArn"])


def follow(
    dep: Deployment,
    machine_arn: str,
    execution_arn: str,
    mode: str,
    on_event: Callable[[Event], None],
) -> Execution:
    """Poll the history until an Execution* end event; `on_event` sees each shown event
    once, in order. One GetExecutionHistory page per poll while the history is short
    (events are deduplicated by id: pages are re-read from the start, which AWS and
    moto both serve), then one DescribeExecution for the final status."""
    region = machine_arn.split(":")[3]
    sfn = dep.clients.client("stepfunctions", region, _account_of(machine_arn))
    run = Execution(machine_arn, execution_arn, region, mode)
    history: list[dict[str, Any]] = []
    started = time.monotonic()

    def read_new() -> bool:
        """Append unseen events; True once the execution has ended."""
        seen = int(history[-1]["id"]) if history else 0
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = call(dep.pacing, sfn.get_execution_history, **kwargs)
            for raw in page.get("events", []):
                if int(raw["id"]) <= seen:
                    continue
                seen = int(raw["id"])
                history.append(raw)
                event = to_event(raw)
                if event is not None:
                    run.events.append(event)
                    on_event(event)
            token = page.get("nextToken")
            if not token:
                return any(str(e["type"]) in END_EVENTS for e in history[-3:])

    for delay in dep.pacing.poll_delays():
        if delay:
            dep.pacing.sleep(delay)
        if read_new():
            break
    described = call(dep.pacing, sfn.describe_execution, executionArn=execution_arn)
    run.status = str(described["status"])
    run.duration_s = time.monotonic() - started
    run.outcome = _outcome(described.get("output"))
    if run.status != "SUCCEEDED":
        run.failed_state, run.error, run.cause = _failure_from_history(history)
        run.error = run.error or described.get("error")
        run.cause = run.cause or described.get("cause")
    return run
