"""Status of the deployed stack sets: instances, their status and the last operation."""

from __future__ import annotations

from typing import Any

from trading_dr.deploy import stacksets
from trading_dr.deploy.plan import stages
from trading_dr.deploy.retry import call
from trading_dr.deploy.rollout import Deployment


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
        last = max(operations, key=lambda o: o["CreationTimestamp"], default=None)
        instances = [
            {
                "account": i["Account"],
                "region": i["Region"],
                "status": i.get("Status"),
                "detailed_status": i.get("StackInstanceStatus", {}).get("DetailedStatus"),
                "drift_status": i.get("DriftStatus", "NOT_CHECKED"),
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
