"""CDK-assertions-style helpers over a template dict (what `render.template_dict` returns)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trading_dr.audit.model import walk

Json = Any


def resources_of_type(template: dict[str, Json], resource_type: str) -> dict[str, Json]:
    """Logical id -> resource, for every resource of `resource_type`."""
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }


def resource_count_is(template: dict[str, Json], resource_type: str, count: int) -> None:
    found = resources_of_type(template, resource_type)
    assert len(found) == count, f"{resource_type}: expected {count}, found {sorted(found)}"


def matches(actual: Json, expected: Json) -> bool:
    """True when `expected` is a recursive subset of `actual` (lists: same length, in order)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def has_resource_properties(
    template: dict[str, Json], resource_type: str, properties: dict[str, Json]
) -> str:
    """Assert some resource of the type has `properties` as a subset; returns its logical id."""
    candidates = resources_of_type(template, resource_type)
    for name, resource in candidates.items():
        if matches(resource.get("Properties", {}), properties):
            return name
    raise AssertionError(
        f"no {resource_type} has properties {properties!r}; candidates: {sorted(candidates)}"
    )


def policy_statements(template: dict[str, Json]) -> Iterator[tuple[str, dict[str, Json]]]:
    """(logical id, statement) for every IAM statement anywhere in the template."""
    for name, resource in template.get("Resources", {}).items():
        for node in walk(resource):
            if isinstance(node, dict) and "Statement" in node and "Version" in node:
                for statement in node["Statement"]:
                    yield name, statement


def as_list(value: Json) -> list[Json]:
    return value if isinstance(value, list) else [value]


__all__ = [
    "as_list",
    "has_resource_properties",
    "matches",
    "policy_statements",
    "resource_count_is",
    "resources_of_type",
    "walk",
]
