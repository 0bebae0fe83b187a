"""awacs policy builders. Each grant documents exactly which actions it gives.

Rules every caller follows: actions are awacs constants (no `*`, no `service:*`);
resources are Ref/GetAtt/Sub of real resources. `Resource: "*"` appears only through
`unscoped()`, which demands the reason AWS allows nothing narrower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from awacs.aws import (
    Action,
    Allow,
    Condition,
    ConditionElement,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
)
from awacs.sts import AssumeRole
from troposphere import AWSHelperFn, Sub

VERSION = "2012-10-17"
Resource: TypeAlias = str | AWSHelperFn

# Every statement that must use Resource "*" is listed here with its reason; audit and
# least-privilege tests read this table, and unscoped() refuses anything not in it.
UNSCOPED_ACTIONS: dict[str, str] = {
    "xray:PutTraceSegments": "X-Ray accepts no resource-level permission for trace upload",
    "xray:PutTelemetryRecords": "X-Ray accepts no resource-level permission for telemetry",
    "cloudwatch:PutMetricData": "PutMetricData has no resource type; scoped by namespace "
    "condition instead",
    "ec2:DescribeNetworkInterfaces": "Describe* calls support no resource-level permission",
    "xray:GetSamplingRules": "X-Ray sampling rules accept no resource-level permission for "
    "Step Functions tracing",
    "xray:GetSamplingTargets": "X-Ray sampling targets accept no resource-level permission",
    # Step Functions logging: AWS documents these log-delivery actions as Resource "*" only.
    "logs:CreateLogDelivery": "log delivery for Step Functions supports only Resource '*'",
    "logs:GetLogDelivery": "log delivery for Step Functions supports only Resource '*'",
    "logs:UpdateLogDelivery": "log delivery for Step Functions supports only Resource '*'",
    "logs:DeleteLogDelivery": "log delivery for Step Functions supports only Resource '*'",
    "logs:ListLogDeliveries": "log delivery for Step Functions supports only Resource '*'",
    "logs:PutResourcePolicy": "account-level log resource policy (vended logs); no resource type",
    "logs:DescribeResourcePolicies": "lists account-level log resource policies; no resource type",
    "logs:DescribeLogGroups": "Step Functions and API Gateway check their log destinations; "
    "DescribeLogGroups lists account-wide and takes no resource",
    "cloudwatch:GetMetricData": "GetMetricData has no resource type; it reads metrics only",
}


def all_of(*elements: ConditionElement) -> Condition:
    """A Condition requiring every element; merges elements that share an operator.

    awacs' Condition keeps one entry per operator, so two StringEquals would silently
    drop the first: exactly the mistake that turns a scoped grant into a broad one.
    """
    merged: dict[type[ConditionElement], dict[str, Any]] = {}
    for element in elements:
        keys = merged.setdefault(type(element), {})
        for key, value in element.get_dict().items():
            if key in keys:
                raise ValueError(f"condition key {key} given twice under {element.condition}")
            keys[key] = value
    return Condition([operator(keys) for operator, keys in merged.items()])


def document(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version=VERSION, Statement=list(statements))


def allow(
    sid: str,
    actions: Sequence[Action],
    resources: Sequence[Resource],
    condition: Condition | None = None,
    principal: Principal | None = None,
) -> Statement:
    """An Allow statement; `principal` only in resource policies (key, bucket, queue)."""
    kwargs: dict[str, Any] = {"Sid": sid, "Effect": Allow, "Action": list(actions)}
    kwargs["Resource"] = list(resources)
    if principal is not None:
        kwargs["Principal"] = principal
    if condition is not None:
        kwargs["Condition"] = condition
    return Statement(**kwargs)


def unscoped(sid: str, actions: Sequence[Action], condition: Condition | None = None) -> Statement:
    """A statement on Resource "*"; every action must be justified in UNSCOPED_ACTIONS."""
    for action in actions:
        name = action.JSONrepr()
        if name not in UNSCOPED_ACTIONS:
            raise ValueError(f"{name} has no justification for Resource '*' in UNSCOPED_ACTIONS")
    return allow(sid, actions, ["*"], condition)


def deny(
    sid: str,
    actions: Sequence[Action],
    resources: Sequence[Resource],
    condition: Condition | None = None,
    principal: Principal | None = None,
) -> Statement:
    kwargs: dict[str, Any] = {"Sid": sid, "Effect": Deny, "Action": list(actions)}
    kwargs["Resource"] = list(resources)
    if principal is not None:
        kwargs["Principal"] = principal
    if condition is not None:
        kwargs["Condition"] = condition
    return Statement(**kwargs)


def service_trust(service: str, condition: Condition | None = None) -> PolicyDocument:
    """Trust policy letting one AWS service (e.g. 'lambda.amazonaws.com') assume a role."""
    kwargs: dict[str, Any] = {
        "Effect": Allow,
        "Principal": Principal("Service", [service]),
        "Action": [AssumeRole],
    }
    if condition is not None:
        kwargs["Condition"] = condition
    return document(Statement(**kwargs))


def account_root() -> Principal:
    return Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")])


def same_account_condition() -> dict[str, AWSHelperFn]:
    """aws:SourceAccount value that pins a service principal to this account (confused deputy)."""
    return {"aws:SourceAccount": Sub("${AWS::AccountId}")}
