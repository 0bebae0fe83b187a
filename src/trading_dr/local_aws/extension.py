"""Install the project's extension into moto (idempotent; call before serving requests).

1. Resource types moto's CloudFormation skips get stand-in models (`standins`), so the
   real generated templates deploy unchanged and GetAtt in Outputs works.
2. StackSet operations redeploy and fail like AWS's (`stacksets`, its API handlers in
   `stackset_api`); stack set drift detection runs as an operation and reports per
   resource (`drift`).
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
9. What the failover path calls at runtime exists and acts as in AWS: the Aurora global
   database and the DynamoDB global tables are moto objects beside their stand-ins
   (`aurora_global`, `global_tables`), deployed state machines get their definition and
   run their tasks in their own account (`workflows`), Aurora's global failover and
   switchover exist (`global_failover`), the validator runs its real code
   (`validator_runtime`, through `lambdas`) and secondaries report replication lag
   (`replication_lag`, published by the server).
10. Route 53 health check statuses and DNS answers are evaluated when asked for, from the
    metric data, the deployed stacks and the regions that are down (`route53_answers`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.responses import CloudFormationResponse

from trading_dr.local_aws import (
    aurora_global,
    faults,
    global_failover,
    global_tables,
    iam_delay,
    lambdas,
    outage,
    protection,
    refusals,
    route53_answers,
    workflows,
)
from trading_dr.local_aws.stacksets import (
    InjectedResourceError,
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
        aurora_global.register()
        global_tables.register()
        workflows.install()
        global_failover.install()
        route53_answers.install()
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


def _patch_handlers() -> None:
    from trading_dr.local_aws.drift import HANDLERS as DRIFT_HANDLERS
    from trading_dr.local_aws.stackset_api import HANDLERS as STACKSET_HANDLERS

    for name, handler in {**STACKSET_HANDLERS, **DRIFT_HANDLERS}.items():
        setattr(CloudFormationResponse, name, handler)
    for name in FAULTABLE:
        original = getattr(CloudFormationResponse, name)
        setattr(CloudFormationResponse, name, _with_faults(_camel(name), original))
