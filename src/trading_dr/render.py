"""Deterministic YAML for CloudFormation.

troposphere's own `to_yaml` goes through cfn-flip, which is slow and rewrites intrinsic
functions; we dump `to_dict()` with PyYAML instead: long-form intrinsics (`Fn::GetAtt`,
`Ref`), insertion order kept (builders are deterministic), no anchors, no line folding.
"""

from __future__ import annotations

from typing import Any

import yaml
from troposphere import Template

try:  # libyaml is several times faster; the pure-Python dumper gives the same bytes.
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: _Dumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


# Reading order for reviewers: what the template is, what it takes, what it builds.
TOP_LEVEL_ORDER = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Resources",
    "Outputs",
)
RESOURCE_ORDER = (
    "Type",
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "Metadata",
    "Properties",
)


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {key: mapping[key] for key in order if key in mapping}
    return known | {key: value for key, value in mapping.items() if key not in known}


def template_dict(template: Template) -> dict[str, Any]:
    """The template as plain data, with top-level and resource keys in reading order."""
    data = _ordered(template.to_dict(), TOP_LEVEL_ORDER)
    data["Resources"] = {
        name: _ordered(resource, RESOURCE_ORDER) for name, resource in data["Resources"].items()
    }
    return data


def to_yaml(template: Template) -> str:
    return dump(template_dict(template))


def dump(data: Any) -> str:
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
        allow_unicode=True,
        indent=2,
    )
    return text
