"""Reading a CloudFormation template as plain data (the rendered dict, or cfn-lint's parse):
shared by the rules pack and by the builders that must agree with it, e.g. the API
Deployment's content hash. No cfn-lint import here: `generate.py` uses it on every run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

# Resource types whose definitions an API Gateway Deployment snapshots for its RestApi.
API_SNAPSHOT_TYPES = (
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Authorizer",
)
SNAPSHOT_HASH_LENGTH = 12


def resources_of(template: dict[str, Any], *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resource) of the given types, in template order."""
    for logical, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, dict) and resource.get("Type") in types:
            yield logical, resource


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}


def referenced(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names, else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        target = value.get("Fn::GetAtt")
        if isinstance(target, list) and target and isinstance(target[0], str):
            return target[0]
        if isinstance(target, str):
            return target.split(".", 1)[0]
    return None


def depends_on(resource: dict[str, Any]) -> set[str]:
    value = resource.get("DependsOn", [])
    return {value} if isinstance(value, str) else {v for v in value if isinstance(v, str)}


def snapshot_members(template: dict[str, Any], rest_api: str) -> dict[str, dict[str, Any]]:
    """Every resource of `rest_api` that a Deployment of it snapshots, by logical id."""
    return {
        logical: resource
        for logical, resource in resources_of(template, *API_SNAPSHOT_TYPES)
        if referenced(properties(resource).get("RestApiId")) == rest_api
    }


def snapshot_hash(members: dict[str, dict[str, Any]]) -> str:
    """Content hash of what a Deployment snapshots: the generator names the Deployment with
    it, and rule E9006 recomputes it, so any change to a member changes the logical id and
    CloudFormation creates a new Deployment (an existing one is never re-snapshotted)."""
    canonical = {
        logical: {"Type": resource.get("Type"), "Properties": properties(resource)}
        for logical, resource in members.items()
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:SNAPSHOT_HASH_LENGTH]
