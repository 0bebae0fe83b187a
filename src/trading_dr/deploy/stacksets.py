"""CloudFormation StackSets calls: read the current state, start operations, wait.

Plain functions over a CloudFormation client. Each write takes an operation id made once
per logical operation and reused by every retry, so a retried request (throttling, a
lost response) never starts a second operation.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from trading_dr.config import Environment
from trading_dr.deploy.retry import Pacing, call, error_code
from trading_dr.errors import OperationRunningError

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
DONE_STATUSES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
ACTIVE_STATUSES = frozenset({"RUNNING", "STOPPING", "QUEUED"})


def parameter_list(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]


def preferences(env: Environment) -> dict[str, Any]:
    return {
        "FailureToleranceCount": env.deployment.failure_tolerance_count,
        "MaxConcurrentCount": env.deployment.max_concurrent_count,
    }


def describe_stack_set(cfn: Any, pacing: Pacing, name: str) -> dict[str, Any] | None:
    """The stack set, or None if it does not exist (or was deleted)."""
    try:
        found = call(pacing, cfn.describe_stack_set, StackSetName=name)["StackSet"]
    except ClientError as exc:
        if error_code(exc) == "StackSetNotFoundException":
            return None
        raise
    return None if found.get("Status") == "DELETED" else dict(found)


def list_instances(cfn: Any, pacing: Pacing, name: str) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"StackSetName": name}
        if token:
            kwargs["NextToken"] = token
        page = call(pacing, cfn.list_stack_instances, **kwargs)
        summaries += page.get("Summaries", [])
        token = page.get("NextToken")
        if not token:
            return summaries


def instance_overrides(
    cfn: Any, pacing: Pacing, name: str, account: str, region: str
) -> dict[str, str]:
    found = call(
        pacing,
        cfn.describe_stack_instance,
        StackSetName=name,
        StackInstanceAccount=account,
        StackInstanceRegion=region,
    )["StackInstance"]
    return {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("ParameterOverrides", [])
    }


def stack_outputs(cfn: Any, pacing: Pacing, stack_id: str) -> dict[str, str]:
    stack = call(pacing, cfn.describe_stacks, StackName=stack_id)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def create_stack_set(
    cfn: Any,
    pacing: Pacing,
    name: str,
    source: Mapping[str, str],
    values: Mapping[str, str],
    description: str,
) -> None:
    call(
        pacing,
        cfn.create_stack_set,
        StackSetName=name,
        Description=description,
        Parameters=parameter_list(values),
        Capabilities=CAPABILITIES,
        PermissionModel="SELF_MANAGED",
        ManagedExecution={"Active": True},
        ClientRequestToken=str(uuid.uuid4()),
        **source,
    )


def update_stack_set(
    cfn: Any,
    pacing: Pacing,
    name: str,
    source: Mapping[str, str],
    values: Mapping[str, str],
    accounts: list[str],
    region: str,
    env: Environment,
) -> str:
    return str(
        call(
            pacing,
            cfn.update_stack_set,
            StackSetName=name,
            Parameters=parameter_list(values),
            Capabilities=CAPABILITIES,
            ManagedExecution={"Active": True},
            Accounts=accounts,
            Regions=[region],
            OperationPreferences=preferences(env),
            OperationId=str(uuid.uuid4()),
            **source,
        )["OperationId"]
    )


def _instances_operation(
    operation: Any,
    pacing: Pacing,
    name: str,
    accounts: list[str],
    region: str,
    overrides: Mapping[str, str],
    env: Environment,
) -> str:
    """create_stack_instances and update_stack_instances take the same arguments."""
    return str(
        call(
            pacing,
            operation,
            StackSetName=name,
            Accounts=accounts,
            Regions=[region],
            ParameterOverrides=parameter_list(overrides),
            OperationPreferences=preferences(env),
            OperationId=str(uuid.uuid4()),
        )["OperationId"]
    )


def create_instances(
    cfn: Any,
    pacing: Pacing,
    name: str,
    accounts: list[str],
    region: str,
    overrides: Mapping[str, str],
    env: Environment,
) -> str:
    return _instances_operation(
        cfn.create_stack_instances, pacing, name, accounts, region, overrides, env
    )


def update_instances(
    cfn: Any,
    pacing: Pacing,
    name: str,
    accounts: list[str],
    region: str,
    overrides: Mapping[str, str],
    env: Environment,
) -> str:
    return _instances_operation(
        cfn.update_stack_instances, pacing, name, accounts, region, overrides, env
    )


def delete_instances(
    cfn: Any,
    pacing: Pacing,
    name: str,
    accounts: list[str],
    regions: list[str],
    env: Environment,
    retain: bool = False,
) -> str:
    """`retain`: remove the instances from the stack set but keep their stacks (the way
    out for INOPERABLE instances)."""
    return str(
        call(
            pacing,
            cfn.delete_stack_instances,
            StackSetName=name,
            Accounts=accounts,
            Regions=regions,
            RetainStacks=retain,
            OperationPreferences=preferences(env),
            OperationId=str(uuid.uuid4()),
        )["OperationId"]
    )


def delete_stack_set(cfn: Any, pacing: Pacing, name: str) -> None:
    call(pacing, cfn.delete_stack_set, StackSetName=name)


@dataclass(frozen=True)
class OperationOutcome:
    operation_id: str
    status: str
    reasons: list[str]


def wait_for_operation(
    cfn: Any,
    pacing: Pacing,
    name: str,
    operation_id: str,
    on_poll: Callable[[str, float], None],
    deadline: float | None = None,
    on_operation: Callable[[dict[str, Any]], None] | None = None,
) -> OperationOutcome:
    """Poll DescribeStackSetOperation (botocore has no waiter) with growing intervals,
    until the operation ends or `deadline` (time.monotonic()) passes: then
    OperationRunningError, the operation left running."""
    started = time.monotonic()
    for planned in pacing.poll_delays():
        delay = planned
        if deadline is not None:
            delay = max(0.0, min(planned, deadline - time.monotonic()))
        if delay:
            pacing.sleep(delay)
        operation = call(
            pacing, cfn.describe_stack_set_operation, StackSetName=name, OperationId=operation_id
        )["StackSetOperation"]
        status = str(operation["Status"])
        if on_operation is not None:
            on_operation(operation)
        on_poll(status, time.monotonic() - started)
        if status in DONE_STATUSES:
            return _outcome(cfn, pacing, name, operation)
        if deadline is not None and time.monotonic() >= deadline:
            raise OperationRunningError(
                f"operation {operation_id} of stack set {name} is still {status} at the "
                "--timeout deadline; it goes on in AWS; fix: re-run the same command to "
                "attach to it (or raise --timeout)"
            )
    raise AssertionError("unreachable")  # poll_delays is endless


def _outcome(cfn: Any, pacing: Pacing, name: str, operation: dict[str, Any]) -> OperationOutcome:
    operation_id, status = str(operation["OperationId"]), str(operation["Status"])
    # With FailureToleranceCount > 0 an operation SUCCEEDS while instances failed: the
    # results are read either way, and any failed instance fails the stage, since later
    # stages need every instance's outputs.
    reasons = operation_reasons(cfn, pacing, name, operation_id)
    if status == "SUCCEEDED" and reasons:
        status = "FAILED"
        reasons.insert(0, "the operation SUCCEEDED within FailureToleranceCount, but:")
    elif status != "SUCCEEDED" and operation.get("StatusReason"):
        reasons.insert(0, str(operation["StatusReason"]))
    return OperationOutcome(operation_id, status, reasons)


def operation_reasons(cfn: Any, pacing: Pacing, name: str, operation_id: str) -> list[str]:
    results = call(
        pacing, cfn.list_stack_set_operation_results, StackSetName=name, OperationId=operation_id
    ).get("Summaries", [])
    return [
        f"{r['Account']}/{r['Region']}: {r['Status']}: {r.get('StatusReason', '')}".rstrip(": ")
        for r in results
        if r.get("Status") != "SUCCEEDED"
    ]


def running_operation(cfn: Any, pacing: Pacing, name: str) -> dict[str, Any] | None:
    """An operation of the stack set that has not ended (RUNNING, STOPPING, QUEUED)."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"StackSetName": name}
        if token:
            kwargs["NextToken"] = token
        page = call(pacing, cfn.list_stack_set_operations, **kwargs)
        for summary in page.get("Summaries", []):
            if summary.get("Status") in ACTIVE_STATUSES:
                return dict(summary)
        token = page.get("NextToken")
        if not token:
            return None


def stop_operation(cfn: Any, pacing: Pacing, name: str, operation_id: str) -> None:
    """StopStackSetOperation: unstarted instances are cancelled, running ones finish."""
    call(pacing, cfn.stop_stack_set_operation, StackSetName=name, OperationId=operation_id)
