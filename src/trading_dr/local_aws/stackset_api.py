"""moto's StackSet API handlers replaced by the project's (`HANDLERS`, installed by
`extension.install()`): operations redeploy, run, fail and stop like AWS's
(`stacksets.run_operation`), and are described and listed the way AWS answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from trading_dr.local_aws.stacksets import (
    ACTIVE,
    LocalStackInstance,
    StackInstanceNotFoundError,
    find_instance,
    refresh,
    run_operation,
    targets_of,
)


class InvalidOperationError(CloudFormationError):
    code = "InvalidOperationException"


def _params(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in items or []}


def _stack_set(self: Any) -> Any:
    return self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))


def _operation_args(self: Any) -> tuple[str | None, dict[str, Any]]:
    return self._get_param("OperationId"), self._get_param("OperationPreferences") or {}


def create_stack_instances(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    overrides = _params(self._get_param("ParameterOverrides"))

    def work(account: str, region: str) -> LocalStackInstance:
        try:
            return find_instance(stack_set, account, region)  # exists: nothing to create
        except StackInstanceNotFoundError:
            instance = LocalStackInstance(stack_set, account, region)
            stack_set.instances.stack_instances.append(instance)
        instance.overrides = dict(overrides)
        instance.deploy()
        return instance

    targets = targets_of(self._get_param("Accounts", []), self._get_param("Regions", []))
    operation = run_operation(stack_set, "CREATE", targets, *_operation_args(self), work)
    return ActionResult({"OperationId": operation["OperationId"]})


def update_stack_instances(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    overrides = _params(self._get_param("ParameterOverrides"))
    targets = targets_of(self._get_param("Accounts", []), self._get_param("Regions", []))
    for account, region in targets:
        find_instance(stack_set, account, region)  # all must exist before anything runs

    def work(account: str, region: str) -> LocalStackInstance:
        instance = find_instance(stack_set, account, region)
        instance.overrides.update(overrides)
        instance.deploy()
        return instance

    operation = run_operation(stack_set, "UPDATE", targets, *_operation_args(self), work)
    return ActionResult({"OperationId": operation["OperationId"]})


def update_stack_set(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    template = self._get_param("TemplateBody")
    if self._get_param("TemplateURL"):
        template = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    incoming = self._get_param("Parameters", [])
    parameters = {
        p["ParameterKey"]: (
            stack_set.parameters.get(p["ParameterKey"], "")
            if p.get("UsePreviousValue")
            else p.get("ParameterValue", "")
        )
        for p in incoming
    }
    accounts = self._get_param("Accounts", [])
    regions = self._get_param("Regions", [])
    if accounts and regions:
        targets = targets_of(accounts, regions)
    else:
        targets = [(i.account_id, i.region_name) for i in stack_set.instances.stack_instances]
    operation_id, preferences = _operation_args(self)
    if operation_id and any(op["OperationId"] == operation_id for op in stack_set.operations):
        return ActionResult({"OperationId": operation_id})  # retried request: same operation
    if template:
        stack_set.template = template
    if incoming:
        stack_set.parameters = parameters
    if self._get_param("Description") is not None:
        stack_set.description = self._get_param("Description")

    def work(account: str, region: str) -> LocalStackInstance | None:
        instance = find_instance(stack_set, account, region)
        if instance.status == "INOPERABLE":
            return None  # AWS excludes INOPERABLE instances from UpdateStackSet
        instance.deploy()
        return instance

    operation = run_operation(stack_set, "UPDATE", targets, operation_id, preferences, work)
    return ActionResult({"OperationId": operation["OperationId"]})


def delete_stack_instances(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    retain = bool(self._get_param("RetainStacks"))
    targets = targets_of(self._get_param("Accounts", []), self._get_param("Regions", []))

    def work(account: str, region: str) -> LocalStackInstance | None:
        try:
            instance = find_instance(stack_set, account, region)
        except StackInstanceNotFoundError:
            return None
        instance.delete(retain)
        if not retain and instance.status == "INOPERABLE":
            return instance  # the failed delete keeps it in the stack set
        stack_set.instances.stack_instances.remove(instance)
        return None

    operation = run_operation(stack_set, "DELETE", targets, *_operation_args(self), work)
    return ActionResult({"OperationId": operation["OperationId"]})


def describe_stack_set_operation(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    operation = refresh(stack_set.get_operation(self._get_param("OperationId")))
    view: dict[str, Any] = {
        key: operation[key]
        for key in (
            "OperationId",
            "Action",
            "Status",
            "StatusReason",
            "CreationTimestamp",
            "OperationPreferences",
        )
        if key in operation
    }
    view["StackSetId"] = stack_set.id
    if operation["Status"] not in ACTIVE:
        view["EndTimestamp"] = operation["EndTimestamp"]
    return ActionResult({"StackSetOperation": view})


def list_stack_set_operation_results(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    operation = refresh(stack_set.get_operation(self._get_param("OperationId")))
    if operation["Status"] in ACTIVE:
        return ActionResult({"Summaries": []})
    return ActionResult({"Summaries": operation.get("Results", [])})


def list_stack_set_operations(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    keys = ("OperationId", "Action", "Status", "StatusReason", "CreationTimestamp", "EndTimestamp")
    summaries = [
        {key: op[key] for key in keys if key in op}
        for op in (refresh(o) for o in stack_set.operations)
    ]
    return ActionResult({"Summaries": summaries})


EVENTS_PAGE = 100  # AWS does not document its page size; pages exist, which is the point


def describe_stack_events(self: Any) -> ActionResult:
    """Newest first, in pages (NextToken), only the events that have happened so far
    (an operation kept RUNNING releases its stack's events over its duration)."""
    now = utcnow()
    stack_events = self.cloudformation_backend.describe_stack_events(self._get_param("StackName"))
    events = [e for e in reversed(stack_events) if e.timestamp <= now]
    start = int(self._get_param("NextToken") or 0)
    result: dict[str, Any] = {"StackEvents": events[start : start + EVENTS_PAGE]}
    if start + EVENTS_PAGE < len(events):
        result["NextToken"] = str(start + EVENTS_PAGE)
    return ActionResult(result)


def stop_stack_set_operation(self: Any) -> ActionResult:
    """StopStackSetOperation: STOPPING while the instances under way finish, then STOPPED
    (instances not started yet are cancelled); only a RUNNING operation can stop."""
    stack_set = _stack_set(self)
    operation = refresh(stack_set.get_operation(self._get_param("OperationId")))
    if operation["Status"] != "RUNNING":
        raise InvalidOperationError(
            f"Operation {operation['OperationId']} is {operation['Status']}: only a RUNNING "
            "operation can be stopped"
        )
    operation["Status"], operation["FinalStatus"] = "STOPPING", "STOPPED"
    operation["StatusReason"] = "The operation was stopped by the user"
    return ActionResult({})


def describe_stack_instance(self: Any) -> ActionResult:
    stack_set = _stack_set(self)
    instance = find_instance(
        stack_set, self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion")
    )
    return ActionResult({"StackInstance": instance.to_dict()})


HANDLERS: dict[str, Callable[[Any], ActionResult]] = {
    "create_stack_instances": create_stack_instances,
    "update_stack_instances": update_stack_instances,
    "update_stack_set": update_stack_set,
    "delete_stack_instances": delete_stack_instances,
    "describe_stack_set_operation": describe_stack_set_operation,
    "list_stack_set_operation_results": list_stack_set_operation_results,
    "list_stack_set_operations": list_stack_set_operations,
    "describe_stack_instance": describe_stack_instance,
    "describe_stack_events": describe_stack_events,
    "stop_stack_set_operation": stop_stack_set_operation,
}
