"""StackSet operations that behave like AWS's for the rollout: they redeploy and can fail.

moto 5.2 creates a stack per instance but `update_stack_set` only stores the template,
`update_stack_instances` only stores the overrides, a failing resource turns into an
HTTP 500, operation ids and preferences are ignored, and the instance's StackId does
not name its stack. Here each operation (create, update, update-instances, delete):
- deploys the stack set's template with `Parameters | ParameterOverrides` to every
  targeted instance, re-creating a stack whose creation failed (as AWS does);
- records per-instance results and reasons; fails once failures exceed
  `FailureToleranceCount` and cancels the instances not yet reached;
- is idempotent on `OperationId`, and refuses to start while another operation of the
  same stack set is RUNNING (`faults.set_operation_seconds` makes them last).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import Event, Stack, StackSet, cloudformation_backends
from moto.core.utils import utcnow

from trading_dr.local_aws import faults, iam_delay, protection
from trading_dr.local_aws.rollback import update_or_roll_back

FAILED_STACK_STATES = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE"}


class OperationInProgressError(CloudFormationError):
    code = "OperationInProgressException"


class OperationIdAlreadyExistsError(CloudFormationError):
    code = "OperationIdAlreadyExistsException"


class StackInstanceNotFoundError(CloudFormationError):
    code = "StackInstanceNotFoundException"


class InjectedResourceError(Exception):
    """A resource failed on purpose (see faults.fail_resource)."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


class LocalStackInstance:
    """A stack instance as AWS reports it, with the stack it really deployed."""

    def __init__(self, stack_set: StackSet, account: str, region: str) -> None:
        self.stack_set = stack_set
        self.account_id = account
        self.region_name = region
        self.overrides: dict[str, str] = {}
        self.stack: Stack | None = None
        self.status = "OUTDATED"
        self.detailed = "PENDING"
        self.reason: str | None = None
        self.drift_status = "NOT_CHECKED"  # set by a drift detection (local_aws.drift)
        self.last_drift_check: Any = None
        self.running_until = 0.0  # time.monotonic() until which its operation runs

    @property
    def backend(self) -> Any:
        return cloudformation_backends[self.account_id][self.region_name]

    def to_dict(self) -> dict[str, Any]:
        running = time.monotonic() < self.running_until
        result: dict[str, Any] = {
            "StackSetId": self.stack_set.id,
            "Region": self.region_name,
            "Account": self.account_id,
            "Status": "OUTDATED" if running else self.status,
            "StackInstanceStatus": {"DetailedStatus": "RUNNING" if running else self.detailed},
            "ParameterOverrides": [
                {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(self.overrides.items())
            ],
            "DriftStatus": self.drift_status,
        }
        if self.last_drift_check is not None:
            result["LastDriftCheckTimestamp"] = self.last_drift_check
        if self.stack is not None:
            result["StackId"] = self.stack.stack_id
        if self.reason:
            result["StatusReason"] = self.reason
        return result

    def deploy(self) -> None:
        """Bring the stack to the stack set's template and parameters; record the outcome."""
        unusable = iam_delay.stack_set_roles_reason(
            self.account_id, str(self.stack_set.arn).split(":")[4]
        )
        if unusable is not None:  # StackSets cannot reach the account: no stack at all
            self.status, self.detailed, self.reason = "OUTDATED", "FAILED", unusable
            return
        parameters = {**self.stack_set.parameters, **self.overrides}
        template = self.stack_set.template
        creating = self.stack is None or self.stack.status in FAILED_STACK_STATES
        try:
            injected = faults.take_instance_fault(self.stack_set.name)
            if injected is not None and self.stack is not None and not creating:
                raise InjectedResourceError(injected[0], self._type_of(injected[0]), injected[1])
            if creating:
                self._discard_failed_stack()
                name = f"StackSet-{self.stack_set.name}-{uuid.uuid4()}"
                self.stack = None
                self.stack = self.backend.create_stack(
                    name=name, template=template, parameters=parameters
                )
            else:
                assert self.stack is not None
                update_or_roll_back(self.stack, template, parameters)
        except Exception as exc:
            self._record_failure(exc, "CREATE" if creating else "UPDATE", name if creating else "")
            return
        self.status, self.detailed, self.reason = "CURRENT", "SUCCEEDED", None

    def _type_of(self, logical_id: str) -> str:
        resources = self.stack.template_dict.get("Resources", {}) if self.stack else {}
        return str(resources.get(logical_id, {}).get("Type", "AWS::CloudFormation::Stack"))

    def _discard_failed_stack(self) -> None:
        """Roll back a failed creation before creating again, as AWS does.

        Like AWS (and moto), resources with DeletionPolicy Retain survive the rollback, so
        a template whose stateful resources use Retain rather than RetainExceptOnCreate
        cannot be re-created after a failed first create: locally as in AWS."""
        if self.stack is not None and self.stack.status != "DELETE_COMPLETE":
            self._delete_stack()

    def _delete_stack(self) -> None:
        assert self.stack is not None
        try:
            self.backend.delete_stack(self.stack.stack_id)
        except Exception:
            # moto deletes without a dependency graph and can give up (DependencyViolation
            # on a VPC): the stack is gone as far as CloudFormation is concerned; what moto
            # could not delete stays in its backends (the README says so).
            self.backend.stacks.pop(self.stack.stack_id, None)
            self.stack.status = "DELETE_COMPLETE"
            self.backend.deleted_stacks[self.stack.stack_id] = self.stack

    def _record_failure(self, exc: Exception, verb: str, created_name: str) -> None:
        if self.stack is None and created_name:
            # moto stored the stack before its resources failed: find it by name.
            self.stack = next(
                (s for s in self.backend.stacks.values() if s.name == created_name), None
            )
        if isinstance(exc, InjectedResourceError):
            where = f"ResourceLogicalId:{exc.logical_id}, ResourceType:{exc.resource_type}, "
            reason = f"{where}ResourceStatusReason:{exc.reason}."
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if self.stack is not None:
            if isinstance(exc, InjectedResourceError) and not getattr(exc, "recorded", False):
                self.stack.events.append(
                    Event(
                        stack_id=self.stack.stack_id,
                        stack_name=self.stack.name,
                        logical_resource_id=exc.logical_id,
                        physical_resource_id="",
                        resource_type=exc.resource_type,
                        resource_status=f"{verb}_FAILED",
                        resource_status_reason=exc.reason,
                        resource_properties=None,
                    )
                )
            if verb == "CREATE":
                rollback_events(self.stack)
            self.stack.status = (
                "ROLLBACK_COMPLETE"
                if verb == "CREATE"
                else getattr(exc, "rollback_status", "UPDATE_ROLLBACK_COMPLETE")
            )
            self.stack._add_stack_event(self.stack.status)
        self.status, self.detailed, self.reason = "OUTDATED", "FAILED", reason

    def delete(self, retain: bool = False) -> None:
        """Delete the stack (unless `retain`); a protected resource makes the delete fail
        and leaves the instance INOPERABLE, as AWS does (`protection`)."""
        if self.stack is None or retain or self.stack.status == "DELETE_COMPLETE":
            return
        refused = protection.protected(self.stack)
        if not refused:
            self._delete_stack()
            return
        for logical_id, resource_type in refused:
            self.stack.events.append(
                Event(
                    stack_id=self.stack.stack_id,
                    stack_name=self.stack.name,
                    logical_resource_id=logical_id,
                    physical_resource_id="",
                    resource_type=resource_type,
                    resource_status="DELETE_FAILED",
                    resource_status_reason=protection.REFUSAL,
                    resource_properties=None,
                )
            )
        self.stack.status = "DELETE_FAILED"
        names = ", ".join(logical_id for logical_id, _ in refused)
        self.status, self.detailed = "INOPERABLE", "FAILED"
        self.reason = f"The following resource(s) failed to delete: [{names}]. "


CANCELLED = "Resource creation cancelled"


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Ref", "DependsOn"):
                found |= {value} if isinstance(value, str) else set(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text))}
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def rollback_events(stack: Stack) -> None:
    """The events AWS adds after a resource fails to create: resources whose creation
    was under way (all they need exists) are cancelled, then the rollback deletes what
    was created, newest first. On a large stack they push the root cause pages back."""
    resources: dict[str, Any] = stack.template_dict.get("Resources") or {}
    statuses = {e.logical_resource_id: e.resource_status for e in stack.events}
    created = [
        e.logical_resource_id
        for e in stack.events
        if e.resource_status == "CREATE_COMPLETE" and e.logical_resource_id in resources
    ]
    failed = [k for k, v in statuses.items() if v == "CREATE_FAILED" and k in resources]
    under_way = [
        logical_id
        for logical_id, resource in resources.items()
        if logical_id not in statuses
        and "Condition" not in resource
        and references(resource) & resources.keys() <= set(created)
    ]

    def add(logical_id: str, resource_type: str, status: str, reason: str | None) -> None:
        stack.events.append(
            Event(stack.stack_id, stack.name, logical_id, "", resource_type, status, reason, None)
        )

    for logical_id in under_way:
        add(logical_id, resources[logical_id]["Type"], "CREATE_FAILED", CANCELLED)
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to create: "
        f"[{', '.join(sorted(failed + under_way))}]. Rollback requested by user.",
    )
    for logical_id in reversed(created):
        add(logical_id, resources[logical_id]["Type"], "DELETE_IN_PROGRESS", None)
        add(logical_id, resources[logical_id]["Type"], "DELETE_COMPLETE", None)


def _instances(stack_set: StackSet) -> list[LocalStackInstance]:
    # The extension keeps LocalStackInstance objects in moto's list.
    instances: list[LocalStackInstance] = stack_set.instances.stack_instances  # type: ignore[assignment]
    return instances


def find_instance(stack_set: StackSet, account: str, region: str) -> LocalStackInstance:
    for instance in _instances(stack_set):
        if instance.account_id == account and instance.region_name == region:
            return instance
    raise StackInstanceNotFoundError(
        f"Stack instance {account}/{region} of stack set {stack_set.name} not found"
    )


ACTIVE = ("RUNNING", "STOPPING")


def refresh(operation: dict[str, Any]) -> dict[str, Any]:
    """Move a RUNNING (or STOPPING) operation to its final status once its simulated time
    is over."""
    if operation["Status"] in ACTIVE and time.monotonic() >= operation["ReadyAt"]:
        operation["Status"] = operation["FinalStatus"]
        operation["EndTimestamp"] = utcnow()
    return operation


def run_operation(
    stack_set: StackSet,
    action: str,
    targets: list[tuple[str, str]],
    operation_id: str | None,
    preferences: dict[str, Any],
    work: Any,
) -> dict[str, Any]:
    """Run `work(instance_or_target)` for each (account, region); record the operation."""
    existing = _existing_operation(stack_set, action, operation_id)
    if existing is not None:
        return existing  # a retried request with the same id starts nothing new
    tolerance = int(preferences.get("FailureToleranceCount") or 0)
    started = utcnow()
    results, touched, failures = _run_targets(targets, tolerance, work)
    final = "FAILED" if failures > tolerance else "SUCCEEDED"
    seconds = faults.operation_seconds()
    for instance in touched if seconds > 0 else []:
        instance.running_until = time.monotonic() + seconds
        if instance.stack is not None:
            spread_events(instance.stack, started, seconds)
    operation = {
        "OperationId": operation_id or str(uuid.uuid4()),
        "Action": action,
        "Status": "RUNNING" if seconds > 0 else final,
        "FinalStatus": final,
        "ReadyAt": time.monotonic() + seconds,
        "CreationTimestamp": started,
        "EndTimestamp": utcnow() + timedelta(seconds=seconds),
        "Instances": [{account: region} for account, region in targets],
        "Results": results,
        "OperationPreferences": preferences,
    }
    if final == "FAILED":
        operation["StatusReason"] = "The Operation failed: see the results of its stack instances"
    stack_set.operations.append(operation)
    return operation


def _existing_operation(
    stack_set: StackSet, action: str, operation_id: str | None
) -> dict[str, Any] | None:
    """The operation a retried request names; refuses a new one while another runs."""
    for existing in stack_set.operations:
        if operation_id and existing["OperationId"] == operation_id:
            if existing["Action"] != action:
                raise OperationIdAlreadyExistsError(f"operation id {operation_id} already used")
            return existing
    running = [op for op in stack_set.operations if refresh(op)["Status"] in ACTIVE]
    if running:
        raise OperationInProgressError(
            f"Another Operation on StackSet [{stack_set.id}] is in progress: "
            f"{running[0]['OperationId']}"
        )
    return None


def _run_targets(
    targets: list[tuple[str, str]], tolerance: int, work: Any
) -> tuple[list[dict[str, Any]], list[LocalStackInstance], int]:
    """Each target's result, the instances touched and the failures; targets after the
    failure tolerance is exceeded are cancelled, as StackSets does."""
    results: list[dict[str, Any]] = []
    failures = 0
    touched: list[LocalStackInstance] = []
    for account, region in targets:
        if failures > tolerance:
            results.append(
                _result(
                    account, region, "CANCELLED", "Cancelled since failure tolerance has exceeded"
                )
            )
            continue
        instance: LocalStackInstance | None = work(account, region)
        if instance is not None:
            touched.append(instance)
        if instance is not None and instance.detailed == "FAILED":
            failures += 1
            results.append(_result(account, region, "FAILED", instance.reason))
        else:
            results.append(_result(account, region, "SUCCEEDED", None))
    return results, touched, failures


def spread_events(stack: Stack, started: Any, seconds: float) -> None:
    """Retime the events an operation added over its simulated duration: the stack's
    events then appear one by one while it runs (DescribeStackEvents hides events
    from the future), as AWS's do."""
    added = [e for e in stack.events if e.timestamp >= started]
    for index, event in enumerate(added, start=1):
        event.timestamp = started + timedelta(seconds=seconds * index / (len(added) + 1))


def _result(account: str, region: str, status: str, reason: str | None) -> dict[str, Any]:
    result = {"Account": account, "Region": region, "Status": status}
    if reason:
        result["StatusReason"] = reason
    return result


def targets_of(accounts: list[str], regions: list[str]) -> list[tuple[str, str]]:
    if not accounts or not regions:
        raise ValidationError(message="Accounts and Regions are required")
    return [(account, region) for region in regions for account in accounts]
