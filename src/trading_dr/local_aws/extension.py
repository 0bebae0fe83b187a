"""Install the project's extension into moto (idempotent; call before serving requests).

1. Resource types moto's CloudFormation skips get stand-in models (`standins`), so the
   real generated templates deploy unchanged and GetAtt in Outputs works.
2. StackSet operations redeploy and fail like AWS's (`stacksets`); stack set drift
   detection runs as an operation and reports per resource (`drift`).
3. `faults` can fail a resource, answer an API call with an error code (throttling,
   OperationInProgressError...) or keep operations RUNNING for a while.
4. Lambda invocations are answered, not executed (`lambdas`): the migrate function
   reports nothing pending unless a test queues other answers.
5. A region can be down (`outage`, `faults.region_down`): every request addressed to
   it is refused.
6. New IAM roles can take a while to become usable (`iam_delay`).
7. A database with deletion protection fails its stack's deletion and leaves the stack
   instance INOPERABLE (`protection`); ModifyDBCluster can lift it.
8. What AWS refuses and moto accepts, where the project depends on it, fails the resource
   with AWS's error (`refusals`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from trading_dr.local_aws import faults, iam_delay, lambdas, outage, protection, refusals
from trading_dr.local_aws.stacksets import (
    ACTIVE,
    InjectedResourceError,
    LocalStackInstance,
    StackInstanceNotFoundError,
    find_instance,
    refresh,
    run_operation,
    targets_of,
)
from trading_dr.local_aws.standins import REPLACED, standin_class

_lock = threading.Lock()
_installed: list[bool] = []  # non-empty once installed (a list: no `global` needed)

# Handlers whose calls a test may fail with an injected error code.
FAULTABLE = (
    "create_stack_set",
    "update_stack_set",
    "delete_stack_set",
    "describe_stack_set",
    "create_stack_instances",
    "update_stack_instances",
    "delete_stack_instances",
    "list_stack_instances",
    "describe_stack_instance",
    "describe_stack_set_operation",
    "list_stack_set_operation_results",
    "describe_stacks",
    "describe_stack_events",
    "detect_stack_set_drift",
    "list_stack_set_operations",
    "stop_stack_set_operation",
    "describe_stack_resource_drifts",
)


class InvalidOperationError(CloudFormationError):
    code = "InvalidOperationException"


class InjectedError(CloudFormationError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def install() -> None:
    with _lock:
        if _installed:
            return
        _patch_parser()
        _patch_handlers()
        _patch_bucket_policies()
        _patch_hosted_zones()
        lambdas.install()
        outage.install()
        iam_delay.install()
        protection.install()
        _installed.append(True)


def _patch_parser() -> None:
    moto_class_for = parsing.resource_class_from_type
    moto_create = parsing.parse_and_create_resource
    moto_update = parsing.parse_and_update_resource

    def resource_class_from_type(resource_type: str) -> Any:
        known = resource_type in parsing.get_model_map() or resource_type in parsing.NULL_MODELS
        if resource_type not in REPLACED and (known or not resource_type.startswith("AWS::")):
            return moto_class_for(resource_type)
        return standin_class(resource_type)

    def check_fault(logical_id: str, resource_json: dict[str, Any], action: str) -> None:
        reason = faults.take_resource_fault(logical_id, action)
        if reason is None:
            # What AWS refuses and moto would accept fails here as it would there.
            reason = refusals.refusal(resource_json)
        if reason is not None:
            raise InjectedResourceError(logical_id, str(resource_json.get("Type")), reason)

    def with_events(verb: str, moto_call: Callable[..., Any]) -> Callable[..., Any]:
        """`<VERB>_IN_PROGRESS`, then `_COMPLETE` or `_FAILED` with the reason, per
        resource, as AWS records them (moto records stack-level events only)."""

        def handle(logical_id: str, resource_json: Any, *args: Any, **kw: Any) -> Any:
            condition = resource_json.get("Condition")
            if condition and not args[0].lazy_condition_map[condition]:
                return moto_call(logical_id, fix_properties(resource_json), *args, **kw)
            record = resource_events(args[0], logical_id, str(resource_json.get("Type")))
            record(f"{verb}_IN_PROGRESS", None)
            try:
                check_fault(logical_id, resource_json, verb.lower())
                created = moto_call(logical_id, fix_properties(resource_json), *args, **kw)
            except Exception as exc:
                reason = exc.reason if isinstance(exc, InjectedResourceError) else str(exc)
                record(f"{verb}_FAILED", reason)
                exc.recorded = True  # type: ignore[attr-defined]
                raise
            record(f"{verb}_COMPLETE", None)
            return created

        return handle

    parse_and_create_resource = with_events("CREATE", moto_create)
    parse_and_update_resource = with_events("UPDATE", moto_update)

    parsing.resource_class_from_type = resource_class_from_type
    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.parse_and_update_resource = parse_and_update_resource


def resource_events(resources_map: Any, logical_id: str, resource_type: str) -> Any:
    """A function adding events of `logical_id` to the stack that `resources_map` builds."""
    from moto.cloudformation.models import Event, cloudformation_backends

    backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
    stack = backend.stacks.get(resources_map.stack_id)

    def record(status: str, reason: str | None) -> None:
        if stack is not None:
            stack.events.append(
                Event(stack.stack_id, stack.name, logical_id, "", resource_type, status,
                      reason, None)
            )  # fmt: skip

    return record


def _kms_tags(properties: dict[str, Any]) -> dict[str, Any]:
    # moto's KMS model hands CloudFormation's Key/Value tags to its API-shaped
    # TagKey/TagValue tagger and fails with KeyError('TagKey').
    tags = properties.get("Tags")
    if isinstance(tags, list):
        properties = dict(properties)
        properties["Tags"] = [
            {"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t for t in tags
        ]
    return properties


def _ssm_tags(properties: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation gives SSM parameter tags as a map; moto's model iterates a list.
    tags = properties.get("Tags")
    if isinstance(tags, dict):
        properties = dict(properties)
        properties["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return properties


# Per type: rewrite Properties into the shape moto's model expects (moto bugs only).
PROPERTY_FIXES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "AWS::KMS::Key": _kms_tags,
    "AWS::SSM::Parameter": _ssm_tags,
}


def fix_properties(resource_json: dict[str, Any]) -> dict[str, Any]:
    fix = PROPERTY_FIXES.get(str(resource_json.get("Type")))
    if fix is None or not isinstance(resource_json.get("Properties"), dict):
        return resource_json
    return {**resource_json, "Properties": fix(resource_json["Properties"])}


def _patch_bucket_policies() -> None:
    """moto ignores a policy statement's Condition, so the buckets' TLS-only Deny
    (Condition aws:SecureTransport=false) would deny every request. Conditional
    statements are left out of moto's evaluation: bucket policies then decide only
    by action and resource, and the README says so."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        document["Statement"] = [s for s in statements if "Condition" not in s]
        if not document["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _patch_hosted_zones() -> None:
    """`Fn::GetAtt HostedZone.NameServers` (AWS::Route53::HostedZone's documented
    attribute): moto does not know it; the zone's delegation set answers, as
    GetHostedZone does."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.route53.models import FakeZone

    def has_cfn_attr(cls: Any, attr: str) -> bool:
        return attr == "NameServers"

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name != "NameServers":
            raise UnformattedGetAttTemplateException()
        delegation = self.delegation_set
        return list(delegation.name_servers) if delegation else []

    FakeZone.has_cfn_attr = classmethod(has_cfn_attr)  # type: ignore[assignment]
    FakeZone.get_cfn_attribute = get_cfn_attribute  # type: ignore[attr-defined]


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _drop_connection(self: Any) -> None:
    """Close the client's socket without an answer, as a dropped connection would."""
    import socket

    sock = self.normalized_request.environ.get("werkzeug.socket")
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)


def _server_error(code: str, message: str) -> tuple[str, dict[str, Any]]:
    """A 5xx answer in the query protocol's error shape (moto would answer 400)."""
    body = (
        "<ErrorResponse><Error><Type>Receiver</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return body, {"status": faults.SERVER_ERRORS[code], "Content-Type": "text/xml"}


def _with_faults(action: str, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(self: Any) -> Any:
        fault = faults.take_call_fault(action)
        if fault is not None:
            code, message = fault
            if code == faults.DROP_CONNECTION:
                _drop_connection(self)
                return _server_error("InternalFailure", message)  # never reaches the client
            if code in faults.SERVER_ERRORS:
                return _server_error(code, message)
            raise InjectedError(*fault)
        return handler(self)

    wrapped.__name__ = handler.__name__
    return wrapped


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


_HANDLERS: dict[str, Callable[[Any], ActionResult]] = {
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


def _patch_handlers() -> None:
    from trading_dr.local_aws.drift import HANDLERS as DRIFT_HANDLERS

    for name, handler in {**_HANDLERS, **DRIFT_HANDLERS}.items():
        setattr(CloudFormationResponse, name, handler)
    for name in FAULTABLE:
        original = getattr(CloudFormationResponse, name)
        setattr(CloudFormationResponse, name, _with_faults(_camel(name), original))
