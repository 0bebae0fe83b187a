"""E9011: no JSON null inside a state machine's Definition object (use DefinitionString)."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, resources_of
from trading_dr.rules import CATALOGUE


def null_paths(value: Any, path: list[str | int]) -> list[list[str | int]]:
    """The path of every null in `value`."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in null_paths(v, [*path, k])]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in null_paths(v, [*path, i])]
    return []


class StepFunctionsDefinitionNull(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["StepFunctionsDefinitionNull"]
    description = (
        "A null in a template (ASL's `\"ResultPath\": null`, which discards a task's result) "
        "fails CloudFormation's template validation (\"'null' values are not allowed in "
        'templates"), and the AWS::LanguageExtensions transform drops null-valued keys, '
        "which would keep every result: give the definition as DefinitionString (JSON), "
        "where the null is Step Functions' business"
    )
    tags = ["resources", "stepfunctions", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for logical, resource in resources_of(cfn.template, "AWS::StepFunctions::StateMachine"):
            props = properties(resource)
            if "Definition" not in props:
                continue
            definition = props["Definition"]
            for path in null_paths(definition, ["Resources", logical, "Properties", "Definition"]):
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical}: null at {'/'.join(map(str, path[4:]))} in Definition; "
                        "CloudFormation refuses or drops it: use DefinitionString",
                    )
                )
        return matches
