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


def to_yaml(template: Template) -> str:
    return dump(template.to_dict())


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
