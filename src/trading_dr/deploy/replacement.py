"""Which template changes replace a resource, and which resources hold data.

CloudFormation replaces a resource (creates the new one, then deletes the old) when an
update changes one of its *create-only* properties; the resource type schemas list them
as `createOnlyProperties` (CloudFormation User Guide, "Understand update behaviors of
stack resources": https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html;
the CloudFormation CLI's resource type schema reference). cfn-lint ships those
schemas; `create_only.json` is the list for every type the rendered templates use, taken
from them (`python -m trading_dr.deploy.replacement --write` refreshes it; a test checks it
against the installed cfn-lint), so `trading-dr diff` needs no cfn-lint at run time. A
type missing from the file is looked up in cfn-lint when it is installed.

A resource is stateful when it holds data a replacement would lose: the types below, or
any resource the template protects with a Retain/Snapshot DeletionPolicy or
UpdateReplacePolicy (the project gives one to every stateful resource).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("create_only.json")
SCHEMA_REGION = "us-east-1"
STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::RDS::GlobalCluster",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SQS::Queue",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
        "AWS::Route53::HostedZone",
    }
)
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
KEEPING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})


@cache
def _vendored() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads(DATA.read_text())
    return data


def schema_create_only(resource_type: str) -> list[str] | None:
    """createOnlyProperties of `resource_type` from cfn-lint's schemas; None without
    cfn-lint or for a type it does not know."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    except ImportError:
        return None
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type)
    except Exception:  # cfn-lint raises its own ResourceNotFoundError
        return None
    return sorted(schema.schema.get("createOnlyProperties", []))


def create_only(resource_type: str) -> list[str] | None:
    """JSON pointers (`/properties/A/B`, `*` for any list item); None: unknown type.
    A custom resource's provider decides on replacement itself: unknown too."""
    if resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE:
        return None
    known = _vendored().get(resource_type)
    return known if known is not None else schema_create_only(resource_type)


def _matches(pattern: list[str], path: tuple[str, ...]) -> bool:
    """A create-only pointer covers `path` when it is a prefix of it (changing B inside
    create-only A replaces) or `path` is a prefix of it (A replaced as a whole)."""
    return all(p in {"*", str(q)} for p, q in zip(pattern, path, strict=False))


def replaces(resource_type: str, path: tuple[str, ...]) -> bool | None:
    """Whether changing property `path` (("A", "B") for Properties.A.B) replaces the
    resource; None when the type's schema is unknown."""
    pointers = create_only(resource_type)
    if pointers is None:
        return None
    return any(
        _matches(pointer.removeprefix("/properties/").split("/"), path) for pointer in pointers
    )


def is_stateful(resource: Mapping[str, Any]) -> bool:
    policies = {resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")}
    return resource.get("Type") in STATEFUL_TYPES or bool(policies & KEEPING_POLICIES)


def refresh(types: Iterable[str]) -> dict[str, list[str]]:
    """The data file's content for `types`, from the installed cfn-lint."""
    found = {t: schema_create_only(t) for t in sorted(set(types))}
    missing = sorted(t for t, pointers in found.items() if pointers is None)
    if missing:
        raise SystemExit(f"cfn-lint has no schema for {', '.join(missing)}")
    return {t: pointers for t, pointers in found.items() if pointers is not None}


def rendered_types() -> set[str]:
    """Every resource type in the rendered templates of every environment."""
    from trading_dr.deploy.template_values import load_template
    from trading_dr.generator import DEFAULT_ENVIRONMENTS, render_environment, select_environments

    types: set[str] = set()
    for env in select_environments(DEFAULT_ENVIRONMENTS, []):
        for name, body in render_environment(env).files.items():
            if name.startswith("templates/") and name.endswith(".yaml"):
                resources = load_template(body).get("Resources") or {}
                types |= {str(r.get("Type")) for r in resources.values()}
    return types


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m trading_dr.deploy.replacement --write")
    DATA.write_text(json.dumps(refresh(rendered_types()), indent=1, sort_keys=True) + "\n")
    print(f"written {DATA}")
