"""Status of the deployed stack sets: instances, their status and the last operation.

`regional_status` answers for one region from that region's endpoints only (its
CloudFormation stacks, its failover workflow and last executions): what an operator can
still see of the surviving region while the StackSets administration region is down.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from trading_dr.deploy import stacksets
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.failover_cmd import state_machine_arn
from trading_dr.deploy.plan import stages
from trading_dr.deploy.retry import call, error_code


def status(dep: Deployment) -> list[dict[str, Any]]:
    cfn = dep.clients.client("cloudformation", dep.env.primary.region)
    rows: list[dict[str, Any]] = []
    for stage in stages(dep.env):
        if stage.role is None or stage.name == "link":
            continue
        found = stacksets.describe_stack_set(cfn, dep.pacing, stage.stack_set)
        row: dict[str, Any] = {"stack_set": stage.stack_set, "region": stage.region}
        if found is None:
            rows.append({**row, "status": "ABSENT", "instances": [], "last_operation": None})
            continue
        operations = call(
            dep.pacing, cfn.list_stack_set_operations, StackSetName=stage.stack_set
        ).get("Summaries", [])
        # Operations started within one timestamp tick: the later in the list is newer.
        ranked = [(o["CreationTimestamp"], n, o) for n, o in enumerate(operations)]
        last = max(ranked, key=lambda r: r[:2])[2] if ranked else None
        instances = [
            {
                "account": i["Account"],
                "region": i["Region"],
                "status": i.get("Status"),
                "detailed_status": i.get("StackInstanceStatus", {}).get("DetailedStatus"),
                "drift_status": i.get("DriftStatus", "NOT_CHECKED"),
                "stack_status": _stack_status(dep, i),
                **({"reason": i["StatusReason"]} if i.get("StatusReason") else {}),
            }
            for i in stacksets.list_instances(cfn, dep.pacing, stage.stack_set)
        ]
        rows.append(
            {
                **row,
                "status": found.get("Status"),
                "instances": instances,
                "last_operation": None
                if last is None
                else {
                    "id": last["OperationId"],
                    "action": last["Action"],
                    "status": last["Status"],
                },
            }
        )
    return rows


def _stack_status(dep: Deployment, instance: dict[str, Any]) -> str | None:
    """The instance's own stack status (e.g. UPDATE_ROLLBACK_COMPLETE after a failed
    update): what CloudFormation did to it, beyond the stack set's CURRENT/OUTDATED."""
    if not instance.get("StackId"):
        return None
    cfn = dep.clients.client("cloudformation", instance["Region"], instance["Account"])
    try:
        stacks = call(dep.pacing, cfn.describe_stacks, StackName=instance["StackId"])["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # deleted since: no such stack
            return "ABSENT"
        raise
    return str(stacks[0]["StackStatus"]) if stacks else "ABSENT"


def _stacks_in(dep: Deployment, region: str) -> list[dict[str, Any]]:
    """The environment's stack set stacks in `region` (StackSet-trading-<env>-...)."""
    cfn = dep.clients.client("cloudformation", region)
    prefix = f"StackSet-trading-{dep.env.suffix}-"
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(dep.pacing, cfn.describe_stacks, **({"NextToken": token} if token else {}))
        for stack in page.get("Stacks", []):
            if str(stack["StackName"]).startswith(prefix):
                found.append(
                    {
                        "stack": stack["StackName"],
                        "status": stack["StackStatus"],
                        **({"reason": stack["StackStatusReason"]}
                           if stack.get("StackStatusReason") else {}),
                    }
                )  # fmt: skip
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=lambda s: str(s["stack"]))


def _workflow_in(dep: Deployment, region: str) -> dict[str, Any]:
    sfn = dep.clients.client("stepfunctions", region)
    arn = state_machine_arn(dep.clients, region, dep.env.suffix)
    row: dict[str, Any] = {"name": arn.rsplit(":", 1)[1], "arn": arn}
    try:
        call(dep.pacing, sfn.describe_state_machine, stateMachineArn=arn)
    except ClientError as exc:
        if error_code(exc) != "StateMachineDoesNotExist":
            raise
        return {**row, "status": "ABSENT", "executions": []}
    executions = call(dep.pacing, sfn.list_executions, stateMachineArn=arn, maxResults=5)
    return {
        **row,
        "status": "ACTIVE",
        "executions": [
            {"name": e["name"], "status": e["status"], "started": e["startDate"]}
            for e in executions.get("executions", [])
        ],
    }


def regional_status(dep: Deployment, region: str) -> dict[str, Any]:
    """`region`'s stacks and failover workflow, from `region`'s endpoints only."""
    return {
        "region": region,
        "account": dep.clients.caller_account(),
        "stacks": _stacks_in(dep, region),
        "failover_workflow": _workflow_in(dep, region),
    }
