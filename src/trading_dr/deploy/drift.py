"""`trading-dr drift`: drift detection on each stack set, waited for, drifted resources shown.

Per deployed stack set: DetectStackSetDrift (one operation id, retried safely), wait for
the operation like every other (DescribeStackSetOperation with backoff, at most one call
per second), then each stack instance's DriftStatus and, from the instance's own stack in
its account and region, the resources whose drift status is MODIFIED or DELETED with their
property differences (DescribeStackResourceDrifts).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from trading_dr.deploy import stacksets
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.diff import diff_stages
from trading_dr.deploy.retry import call

DRIFTED_RESOURCE_STATUSES = ["MODIFIED", "DELETED"]


@dataclass
class InstanceDrift:
    account: str
    region: str
    drift_status: str  # DRIFTED | IN_SYNC | UNKNOWN | NOT_CHECKED
    last_check: str | None
    resources: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "drift_status": self.drift_status,
            "last_check": self.last_check,
            "drifted_resources": self.resources,
        }


@dataclass
class StackSetDrift:
    name: str
    stack_set: str
    status: str  # absent | DRIFTED | IN_SYNC | FAILED (detection did not finish)
    operation_id: str | None = None
    instances: list[InstanceDrift] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return self.status == "DRIFTED"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stack_set": self.stack_set,
            "status": self.status,
            "operation_id": self.operation_id,
            "instances": [i.as_json() for i in self.instances],
            **({"reasons": self.reasons} if self.reasons else {}),
        }


def start_detection(cfn: Any, dep: Deployment, name: str) -> str:
    return str(
        call(
            dep.pacing,
            cfn.detect_stack_set_drift,
            StackSetName=name,
            OperationPreferences=stacksets.preferences(dep.env),
            OperationId=str(uuid.uuid4()),
        )["OperationId"]
    )


def drifted_resources(cfn: Any, dep: Deployment, stack_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "StackName": stack_id,
            "StackResourceDriftStatusFilters": DRIFTED_RESOURCE_STATUSES,
        }
        if token:
            kwargs["NextToken"] = token
        page = call(dep.pacing, cfn.describe_stack_resource_drifts, **kwargs)
        for d in page.get("StackResourceDrifts", []):
            found.append(
                {
                    "logical_id": d["LogicalResourceId"],
                    "physical_id": d.get("PhysicalResourceId"),
                    "type": d["ResourceType"],
                    "status": d["StackResourceDriftStatus"],
                    "differences": [
                        {
                            "path": p.get("PropertyPath"),
                            "type": p.get("DifferenceType"),
                            "expected": p.get("ExpectedValue"),
                            "actual": p.get("ActualValue"),
                        }
                        for p in d.get("PropertyDifferences", [])
                    ],
                }
            )
        token = page.get("NextToken")
        if not token:
            return found


def drift(dep: Deployment) -> list[StackSetDrift]:
    """Detect drift of every deployed stack set, in rollout order."""
    cfn = dep.clients.client("cloudformation", dep.env.primary.region)
    results: list[StackSetDrift] = []
    for stage in diff_stages(dep):
        assert stage.role is not None
        name = stage.role.value
        result = StackSetDrift(name, stage.stack_set, "absent")
        results.append(result)
        if stacksets.describe_stack_set(cfn, dep.pacing, stage.stack_set) is None:
            dep.progress.update(name, "absent")
            continue
        dep.progress.update(name, "detecting", stage.stack_set)
        result.operation_id = start_detection(cfn, dep, stage.stack_set)

        def on_poll(status: str, elapsed: float, stage_name: str = name) -> None:
            dep.progress.update(stage_name, status.lower(), "drift detection")

        outcome = stacksets.wait_for_operation(
            cfn, dep.pacing, stage.stack_set, result.operation_id, on_poll
        )
        for summary in stacksets.list_instances(cfn, dep.pacing, stage.stack_set):
            checked: Any = summary.get("LastDriftCheckTimestamp")
            instance = InstanceDrift(
                str(summary["Account"]),
                str(summary["Region"]),
                str(summary.get("DriftStatus", "NOT_CHECKED")),
                checked.isoformat() if checked is not None else None,
            )
            if summary.get("StackId") and instance.drift_status == "DRIFTED":
                target = dep.clients.client("cloudformation", instance.region, instance.account)
                instance.resources = drifted_resources(target, dep, str(summary["StackId"]))
            result.instances.append(instance)
        if outcome.status != "SUCCEEDED":
            result.status, result.reasons = "FAILED", outcome.reasons
        elif any(i.drift_status == "DRIFTED" for i in result.instances):
            result.status = "DRIFTED"
        else:
            result.status = "IN_SYNC"
        dep.progress.update(name, result.status.lower(), f"operation {result.operation_id}")
        if result.reasons:
            dep.progress.reasons(name, result.reasons)
    return results


def render_text(results: list[StackSetDrift]) -> list[str]:
    lines: list[str] = []
    for r in results:
        op = f" (operation {r.operation_id})" if r.operation_id else ""
        lines.append(f"== {r.name} ({r.stack_set}): {r.status}{op}")
        lines += [f"  reason: {reason}" for reason in r.reasons]
        for i in r.instances:
            lines.append(f"  {i.account} {i.region} {i.drift_status} checked {i.last_check or '-'}")
            for res in i.resources:
                lines.append(f"    {res['status']:<9} {res['logical_id']} ({res['type']})")
                for d in res["differences"]:
                    lines.append(
                        f"      {d['type']} {d['path']}: expected {d['expected']!r}, "
                        f"actual {d['actual']!r}"
                    )
    drifted = [r.name for r in results if r.drifted]
    lines.append(
        f"drift: {len(results)} stack set(s), "
        + (f"drifted: {', '.join(drifted)}" if drifted else "none drifted")
    )
    return lines
