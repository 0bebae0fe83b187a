"""The StackSet execution role's permissions, from the resource handlers' own declarations.

CloudFormation provisions each resource through its type's handlers, and a handler calls
more services than its type's name says (the DynamoDB GlobalTable handlers call
`application-autoscaling:*Scaling*`, `kinesis:*` and `kms:*`). Every registry resource
schema declares, per handler, the IAM actions it needs (`handlers.<create|read|update|
delete>.permissions`, Extension development for CloudFormation, "Resource type schema").
cfn-lint ships those schemas per region; the policy is the union of the create, read,
update and delete handlers' permissions of every resource type in the rendered templates
(read: updates and drift detection read the resource first), for the region each
template is deployed in, plus what a stack instance needs for itself (BASE_ACTIONS: the
minimum the StackSets User Guide lists for a self-managed execution role, "Grant
self-managed permissions").

The union is larger than one inline role policy may be (10,240 characters for all of a
role's inline policies; 6,144 per customer managed policy, IAM and AWS STS quotas), so it
is split into customer managed policies `TradingDrStackSetExecution<N>` (path
`/trading-dr/`) of at most POLICY_LIMIT characters each, attached to the role.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from trading_dr.deploy.plan import parse_template
from trading_dr.errors import PlanError

HANDLERS = ("create", "read", "update", "delete")
BASE_ACTIONS = ("cloudformation:*", "s3:*", "sns:*")
POLICY_PATH = "/trading-dr/"
POLICY_PREFIX = "TradingDrStackSetExecution"
# IAM counts a managed policy's characters without whitespace: 6,144 at most. A margin
# for the statement's own keys and IAM's normalisation.
POLICY_LIMIT = 6_000


def handler_actions(resource_type: str, region: str) -> set[str]:
    """The IAM actions `resource_type`'s handlers declare in `region`'s schema."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError as exc:
        raise PlanError(
            f"no resource schema for {resource_type} in {region} in cfn-lint's data: the "
            "execution role's permissions cannot be derived; fix: upgrade cfn-lint, or use "
            "a type CloudFormation supports in that region"
        ) from exc
    handlers: Mapping[str, Any] = schema.get("handlers") or {}
    actions: set[str] = set()
    for handler in HANDLERS:
        actions.update(str(a) for a in (handlers.get(handler) or {}).get("permissions", []))
    return actions


def required_actions(templates: Mapping[str, bytes], regions: Mapping[str, str]) -> list[str]:
    """Sorted union of BASE_ACTIONS and every handler permission of the templates' types;
    `regions` maps a template's role (`templates/<role>.yaml`) to its region."""
    actions = set(BASE_ACTIONS)
    for path, body in sorted(templates.items()):
        role = path.rsplit("/", 1)[-1].removesuffix(".yaml")
        region = regions.get(role)
        if region is None:
            continue
        resources = parse_template(body).get("Resources") or {}
        for resource_type in sorted({str(r.get("Type")) for r in resources.values()}):
            if resource_type.startswith("AWS::"):
                actions |= handler_actions(resource_type, region)
    return sorted(actions)


def _document(actions: Iterable[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ResourceHandlersOfTheTemplates",
                "Effect": "Allow",
                "Action": list(actions),
                # Resource handlers act on resources whose names the stacks choose, in
                # every service the templates use: not scopable ahead of the stack.
                "Resource": "*",
            }
        ],
    }


def size(document: Mapping[str, Any]) -> int:
    """Characters as IAM counts them (whitespace excluded)."""
    return len(json.dumps(document, separators=(",", ":")).replace(" ", ""))


def policy_documents(actions: list[str]) -> dict[str, dict[str, Any]]:
    """`actions` split into managed policies under POLICY_LIMIT, named in order."""
    chunks: list[list[str]] = [[]]
    for action in actions:
        if chunks[-1] and size(_document([*chunks[-1], action])) > POLICY_LIMIT:
            chunks.append([])
        chunks[-1].append(action)
    return {f"{POLICY_PREFIX}{n}": _document(chunk) for n, chunk in enumerate(chunks, 1)}


def canonical(document: Any) -> Any:
    """A policy document in a form that compares equal however IAM returned it."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out = []
    for statement in statements:
        normal = dict(statement)
        for key in ("Action", "Resource"):
            value = normal.get(key)
            normal[key] = sorted([value] if isinstance(value, str) else list(value or []))
        out.append(normal)
    return out
