"""Resolve the CloudFormation intrinsics a drill meets in rendered templates.

A drill reads resource properties straight from the rendered templates and fills in the
physical values CloudFormation would: `Ref`, `Fn::GetAtt`, `Fn::If` on the template's
conditions (Fn::Equals/Not/And/Or), `Fn::Sub` with a variable map or pseudo parameters.
An intrinsic it does not know, or a reference it has no value for, is an error: a drill
must never read a half-resolved value as if it were real.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SUB = re.compile(r"\$\{([^}!]+)\}")


class UnresolvedError(KeyError):
    pass


class Resolver:
    def __init__(
        self,
        refs: Mapping[str, Any],
        attributes: Mapping[tuple[str, str], Any],
        conditions: Mapping[str, Any],
    ) -> None:
        """`conditions`: the template's Conditions section (evaluated on demand)."""
        self.refs, self.attributes, self.conditions = refs, attributes, conditions

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise UnresolvedError(f"no condition {name}")
        return self._truth(self.conditions[name])

    def _truth(self, node: Any) -> bool:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            raise UnresolvedError(f"not a condition: {node!r}")
        ((key, value),) = node.items()
        if key == "Condition":
            return self.condition(value)
        if key == "Fn::Not":
            return not self._truth(value[0])
        if key == "Fn::And":
            return all(self._truth(v) for v in value)
        if key == "Fn::Or":
            return any(self._truth(v) for v in value)
        if key == "Fn::Equals":
            left, right = (self(v) for v in value)
            return bool(left == right)
        raise UnresolvedError(f"condition function {key} is not resolved by drills")

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key, value)
        return {key: self(value) for key, value in node.items()}

    def _intrinsic(self, key: str, value: Any) -> Any:
        if key == "Ref":
            return self._ref(value)
        if key == "Fn::GetAtt":
            logical, attribute = value if isinstance(value, list) else value.split(".", 1)
            if (logical, attribute) not in self.attributes:
                raise UnresolvedError(f"no value for Fn::GetAtt {logical}.{attribute}")
            return self.attributes[(logical, attribute)]
        if key == "Fn::If":
            condition, when_true, when_false = value
            return self(when_true if self.condition(condition) else when_false)
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            values = {k: self(v) for k, v in variables.items()}
            return _SUB.sub(
                lambda m: str(values[m[1]] if m[1] in values else self._ref(m[1])), text
            )
        raise UnresolvedError(f"intrinsic {key} is not resolved by drills")

    def _ref(self, name: str) -> Any:
        if name not in self.refs:
            raise UnresolvedError(f"no value for Ref {name}")
        return self.refs[name]
