"""Differences between two CloudFormation templates, reviewer first (pure, no AWS).

What a reviewer must see comes first: IAM statement changes (every policy document in
the template: role trust and inline policies, managed policies, key policies, bucket,
queue and topic policies, Lambda permissions) and security group rule changes (inline
rules and standalone ingress/egress resources), from iam_diff.py and sg_diff.py. Then the
resource-level summary, here. Loading and showing values: template_values.py.

Statements are matched by (resource, policy, Sid): a Sid whose content differs is
`changed`; a statement without a Sid is matched by its whole content, so editing it
shows as removed + added. Intrinsics are shown CDK-style: `${Role.Arn}`, `${Bucket}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from trading_dr.deploy.iam_diff import iam_changes
from trading_dr.deploy.sg_diff import security_group_changes
from trading_dr.deploy.template_values import Change, show

# -- resources ----------------------------------------------------------------------------


ABSENT = "(absent)"
SHOWN_CHARS = 120  # one line per property in the text diff


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in {"Ref", "Condition"} | {k for k in value if k.startswith("Fn::")}
    )


def _leaf_changes(before: Any, after: Any, path: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """(path, old, new) for each changed leaf; maps are walked, lists and intrinsics are
    leaves (a list shown whole reads better than index by index)."""
    if before == after:
        return
    walkable = (
        isinstance(before, dict)
        and isinstance(after, dict)
        and not _is_intrinsic(before)
        and not _is_intrinsic(after)
    )
    if not walkable:
        yield path, before, after
        return
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key, ABSENT), after.get(key, ABSENT)
        yield from _leaf_changes(old, new, (*path, str(key)))


def _short(value: Any) -> str:
    text = value if value is ABSENT else show(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def property_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each changed property of one resource, old -> new, and whether it replaces it."""
    from trading_dr.deploy.replacement import replaces

    kind = str(after.get("Type"))
    rows: list[dict[str, Any]] = []
    props_before = before.get("Properties") or {}
    props_after = after.get("Properties") or {}
    for path, old, new in _leaf_changes(props_before, props_after, ()):
        rows.append(
            {
                "path": ".".join(path),
                "before": _short(old),
                "after": _short(new),
                "replaces": replaces(kind, path),
            }
        )
    # Resource attributes (DeletionPolicy, DependsOn, ...) change no physical resource.
    for key in sorted((set(before) | set(after)) - {"Type", "Properties"}):
        if before.get(key) != after.get(key):
            rows.append(
                {
                    "path": key,
                    "before": _short(before.get(key, ABSENT)),
                    "after": _short(after.get(key, ABSENT)),
                    "replaces": False,
                }
            )
    return rows


def resource_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Added, removed and modified resources; a modified one lists its properties and
    whether the update replaces it. Replacements of stateful resources come first, then
    other replacements, then the rest (each group by logical id)."""
    from trading_dr.deploy.replacement import is_stateful

    before, after = old.get("Resources") or {}, new.get("Resources") or {}
    changes: list[Change] = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            changes.append(Change("added", {"logical_id": name, "type": after[name].get("Type")}))
        elif name not in after:
            changes.append(
                Change("removed", {"logical_id": name, "type": before[name].get("Type")})
            )
        elif before[name] != after[name]:
            kind, was = after[name].get("Type"), before[name].get("Type")
            properties = property_changes(before[name], after[name])
            item = {
                "logical_id": name,
                "type": kind,
                # A new type is a new resource; else any create-only property replaces it.
                "replacement": kind != was or any(p["replaces"] for p in properties),
                "stateful": is_stateful(before[name]) or is_stateful(after[name]),
                "update_replace_policy": after[name].get("UpdateReplacePolicy", "Delete"),
                "properties": properties,
            }
            changes.append(Change("modified", item, None if kind == was else {"type": was}))

    def rank(change: Change) -> int:
        item = change.item
        if item.get("replacement"):
            return 0 if item.get("stateful") else 1
        return 2

    return sorted(changes, key=rank)


def other_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level sections other than Resources that differ (Outputs, Parameters...)."""
    keys = (set(old) | set(new)) - {"Resources"}
    return sorted(k for k in keys if old.get(k) != new.get(k))


@dataclass
class TemplateDiff:
    iam: list[Change] = field(default_factory=list)
    security_groups: list[Change] = field(default_factory=list)
    resources: list[Change] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.iam or self.security_groups or self.resources or self.sections)


def diff_templates(old: Mapping[str, Any], new: Mapping[str, Any]) -> TemplateDiff:
    return TemplateDiff(
        iam=iam_changes(old, new),
        security_groups=security_group_changes(old, new),
        resources=resource_changes(old, new),
        sections=other_changes(old, new),
    )
