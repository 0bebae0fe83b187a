"""Roll a failed stack update back, as CloudFormation does (moto leaves it half-applied).

moto's `Stack.update` deletes removed resources, swaps in the new template, then creates
and modifies; when a resource fails it raises and keeps whatever it had done: removed
resources are gone while the stack still holds the new template, so the next update
fails with `Fn::GetAtt references undefined resource …` and later calls answer 500.
CloudFormation instead rolls the stack back to its previous template and parameters
(status UPDATE_ROLLBACK_COMPLETE), and only a rollback that itself fails leaves
UPDATE_ROLLBACK_FAILED (CloudFormation API Reference, ContinueUpdateRollback:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html).

Here the rollback is an update back to the saved template and parameters. If that fails
too, the saved resource map is put back as it was (resources moto already deleted stay
deleted in its service backends) and the stack says UPDATE_ROLLBACK_FAILED, so the local
AWS stays usable and tells the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moto.cloudformation.models import Stack

ROLLED_BACK = "UPDATE_ROLLBACK_COMPLETE"
ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"
# The fields of a stack and its resource map that an update changes.
STACK_FIELDS = ("template", "template_dict", "parameters", "output_map", "description")
MAP_FIELDS = ("_template", "_resource_json_map", "_parsed_resources", "input_parameters")


@dataclass
class Saved:
    stack: dict[str, Any]
    resource_map: dict[str, Any]


def save(stack: Stack) -> Saved:
    def copy(value: Any) -> Any:
        return dict(value) if isinstance(value, dict) else value

    return Saved(
        {name: copy(getattr(stack, name, None)) for name in STACK_FIELDS},
        {name: copy(getattr(stack.resource_map, name, None)) for name in MAP_FIELDS},
    )


def restore(stack: Stack, saved: Saved) -> None:
    for name, value in saved.stack.items():
        setattr(stack, name, value)
    for name, value in saved.resource_map.items():
        setattr(stack.resource_map, name, value)


def update_or_roll_back(stack: Stack, template: str, parameters: dict[str, str]) -> str | None:
    """Update `stack`; on failure roll it back and re-raise. Returns None on success;
    the raised exception carries `rollback_status` (ROLLED_BACK or ROLLBACK_FAILED)."""
    saved = save(stack)
    try:
        stack.update(template, parameters=parameters)
    except Exception as exc:
        try:
            stack.update(saved.stack["template"], parameters=saved.stack["parameters"])
        except Exception:
            restore(stack, saved)
            exc.rollback_status = ROLLBACK_FAILED  # type: ignore[attr-defined]
        else:
            restore(stack, saved)  # the same template: put back its exact field values
            exc.rollback_status = ROLLED_BACK  # type: ignore[attr-defined]
        raise
    return None
