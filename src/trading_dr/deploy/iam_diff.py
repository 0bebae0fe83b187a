"""IAM statement changes between two templates: every policy document (role trust and
inline policies, managed policies, key policies, bucket, queue and topic policies, Lambda
permissions), matched by (resource, policy, Sid); a statement without a Sid is matched by
its whole content, so editing it shows as removed + added."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from trading_dr.deploy.template_values import Change, as_list, compare, show

# Properties holding one policy document, per resource type ("*": any type).
POLICY_PROPERTIES = ("AssumeRolePolicyDocument", "PolicyDocument", "KeyPolicy")


def _principal(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict) or any(k.startswith("Fn::") or k == "Ref" for k in value):
        return [show(value)]
    return sorted(f"{kind}:{show(v)}" for kind, items in value.items() for v in as_list(items))


# -- IAM statements -----------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    resource: str  # logical id of the resource holding the document
    policy: str  # which document: trust, an inline policy name, KeyPolicy...
    sid: str
    effect: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: str  # compact JSON, "" when none

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("principals", "actions", "resources"):
            data[key] = list(data[key])
        return data


def _statement(resource: str, policy: str, raw: Mapping[str, Any], index: int) -> Statement:
    actions = [show(a) for a in as_list(raw.get("Action"))]
    actions += [f"not {show(a)}" for a in as_list(raw.get("NotAction"))]
    targets = [show(r) for r in as_list(raw.get("Resource"))]
    targets += [f"not {show(r)}" for r in as_list(raw.get("NotResource"))]
    principals = _principal(raw.get("Principal"))
    principals += [f"not {p}" for p in _principal(raw.get("NotPrincipal"))]
    condition = raw.get("Condition")
    return Statement(
        resource=resource,
        policy=policy,
        sid=str(raw.get("Sid", "")),
        effect=str(raw.get("Effect", "")),
        principals=tuple(sorted(principals)),
        actions=tuple(sorted(actions)),
        resources=tuple(sorted(targets)),
        condition=show(condition) if condition is not None else "",
    )


def _documents(logical_id: str, resource: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    properties = resource.get("Properties") or {}
    if not isinstance(properties, dict):
        return
    for name in POLICY_PROPERTIES:
        if name in properties:
            label = "trust" if name == "AssumeRolePolicyDocument" else name
            if name == "PolicyDocument" and "PolicyName" in properties:
                label = show(properties["PolicyName"])
            yield label, properties[name]
    for policy in as_list(properties.get("Policies")):
        if isinstance(policy, dict):
            yield show(policy.get("PolicyName", "?")), policy.get("PolicyDocument")
    for arn in as_list(properties.get("ManagedPolicyArns")):
        # An attached managed policy grants what it says: shown as one pseudo-statement.
        yield "ManagedPolicyArns", {"Statement": [{"Effect": "Attach", "Resource": arn}]}
    if resource.get("Type") == "AWS::Lambda::Permission":
        yield (
            "LambdaPermission",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": properties.get("Principal")},
                        "Action": properties.get("Action"),
                        "Resource": properties.get("FunctionName"),
                        **(
                            {"Condition": {"SourceArn": properties["SourceArn"]}}
                            if "SourceArn" in properties
                            else {}
                        ),
                    }
                ]
            },
        )


def iam_statements(template: Mapping[str, Any]) -> dict[tuple[str, str, str], Statement]:
    """Every IAM statement, keyed by (resource, policy, Sid or content)."""
    found: dict[tuple[str, str, str], Statement] = {}
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if not isinstance(resource, dict):
            continue
        for policy, document in _documents(logical_id, resource):
            if not isinstance(document, dict):
                continue
            for index, raw in enumerate(as_list(document.get("Statement"))):
                if not isinstance(raw, dict):
                    continue
                statement = _statement(logical_id, policy, raw, index)
                identity = statement.sid or json.dumps(statement.row(), sort_keys=True)
                found[(logical_id, policy, identity)] = statement
    return found


def iam_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return compare(iam_statements(old), iam_statements(new), Statement.row)
