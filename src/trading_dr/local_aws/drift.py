"""Drift detection for the local AWS (moto 5.2 implements none of it).

Honest and minimal: the local AWS does not compare live resources with their templates.
`DetectStackSetDrift` runs as a stack set operation (action DETECT_DRIFT, same operation
ids, RUNNING time and OperationInProgress rules as the others) and records, per stack,
one drift result per resource it created:
- `IN_SYNC` for resources moto really models (nothing changes them behind the stack's
  back locally);
- `NOT_CHECKED` for stand-ins (`standins`): nothing exists to compare, as AWS reports
  types drift detection does not support;
- `MODIFIED` / `DELETED` with PropertyDifferences where a test said so
  (`faults.drift_resource`).
The instance's DriftStatus is DRIFTED if any resource is, IN_SYNC otherwise.
`DescribeStackResourceDrifts` returns the last detection's results for a stack.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import Stack
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from trading_dr.local_aws import faults
from trading_dr.local_aws.stacksets import (
    LocalStackInstance,
    find_instance,
    run_operation,
    targets_of,
)
from trading_dr.local_aws.standins import StandIn

DRIFTS_ATTRIBUTE = "trading_dr_resource_drifts"  # set on moto's Stack by a detection


def resource_drifts(stack: Stack) -> list[dict[str, Any]]:
    """Detect (as described above) and remember the drift of each resource of `stack`."""
    now = utcnow()
    parsed: dict[str, Any] = stack.resource_map._parsed_resources
    declared: dict[str, Any] = stack.resource_map._resource_json_map
    results: list[dict[str, Any]] = []
    for logical_id in sorted(parsed):
        model = parsed[logical_id]
        if model is None or logical_id not in declared:
            continue  # parameters and pseudo parameters live in the same map
        drift: dict[str, Any] = {
            "StackId": stack.stack_id,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": str(getattr(model, "physical_resource_id", logical_id)),
            "ResourceType": str(declared[logical_id].get("Type")),
            "StackResourceDriftStatus": "NOT_CHECKED" if isinstance(model, StandIn) else "IN_SYNC",
            "Timestamp": now,
        }
        injected = faults.resource_drift(logical_id)
        if injected is not None:
            drift["StackResourceDriftStatus"], drift["PropertyDifferences"] = injected
        results.append(drift)
    setattr(stack, DRIFTS_ATTRIBUTE, results)
    return results


def detect_instance(instance: LocalStackInstance) -> LocalStackInstance:
    stack = instance.stack
    drifted = False
    if stack is not None and stack.status not in {"DELETE_COMPLETE"}:
        statuses = {d["StackResourceDriftStatus"] for d in resource_drifts(stack)}
        drifted = bool(statuses & {"MODIFIED", "DELETED"})
    instance.drift_status = "DRIFTED" if drifted else "IN_SYNC"
    instance.last_drift_check = utcnow()
    return instance


def detect_stack_set_drift(self: Any) -> ActionResult:
    stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    instances: list[LocalStackInstance] = stack_set.instances.stack_instances
    targets = [(i.account_id, i.region_name) for i in instances]
    accounts = sorted({a for a, _ in targets})
    regions = sorted({r for _, r in targets})

    def work(account: str, region: str) -> LocalStackInstance | None:
        if (account, region) not in targets:
            return None
        return detect_instance(find_instance(stack_set, account, region))

    operation = run_operation(
        stack_set,
        "DETECT_DRIFT",
        targets_of(accounts, regions) if targets else [],
        self._get_param("OperationId"),
        self._get_param("OperationPreferences") or {},
        work,
    )
    return ActionResult({"OperationId": operation["OperationId"]})


def describe_stack_resource_drifts(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    wanted = set(self._get_param("StackResourceDriftStatusFilters") or [])
    drifts = [
        d
        for d in getattr(stack, DRIFTS_ATTRIBUTE, [])
        if not wanted or d["StackResourceDriftStatus"] in wanted
    ]
    return ActionResult({"StackResourceDrifts": drifts})


HANDLERS = {
    "detect_stack_set_drift": detect_stack_set_drift,
    "describe_stack_resource_drifts": describe_stack_resource_drifts,
}
