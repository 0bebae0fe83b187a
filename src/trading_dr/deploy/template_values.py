"""Template values for the diffs: CloudFormation YAML loaded with its short-form tags, values
shown in one line CDK-style (`${Role.Arn}`), and the added/removed/changed item."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

# -- loading -------------------------------------------------------------------------------


def _base_loader() -> type[yaml.SafeLoader]:
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return base


class CfnLoader(_base_loader()):  # type: ignore[misc]
    """Safe YAML (and so JSON) plus CloudFormation's short-form tags (`!Ref`, `!Sub`...),
    turned into the long form, so templates written either way compare equal."""


def _short_form(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _short_form)


def load_template(body: str | bytes) -> dict[str, Any]:
    """A template (YAML, JSON, long- or short-form intrinsics) as data."""
    loaded = yaml.load(body, Loader=CfnLoader)  # a SafeLoader subclass
    if not isinstance(loaded, dict):
        return {}
    return loaded


# -- showing values -----------------------------------------------------------------------


def show(value: Any) -> str:
    """A template value in one short line; intrinsics CDK-style."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"${{{arg}}}"
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return "${" + ".".join(str(p) for p in parts) + "}"
        if key == "Fn::Sub":
            return str(arg[0] if isinstance(arg, list) else arg)
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(show(p) for p in arg[1])
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Change:
    """One added, removed or changed item; `before` only for `changed`."""

    change: str  # added | removed | changed
    item: dict[str, Any]
    before: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        data = {"change": self.change, **self.item}
        if self.before is not None:
            data["before"] = self.before
        return data


def compare(old: Mapping[Any, Any], new: Mapping[Any, Any], row: Any) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(old) | set(new), key=str):
        if key not in old:
            changes.append(Change("added", row(new[key])))
        elif key not in new:
            changes.append(Change("removed", row(old[key])))
        elif old[key] != new[key]:
            changes.append(Change("changed", row(new[key]), row(old[key])))
    return changes
