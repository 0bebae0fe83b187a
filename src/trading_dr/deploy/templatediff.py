"""Differences between two CloudFormation templates, reviewer first (pure, no AWS).

What a reviewer must see comes first: IAM statement changes (every policy document in
the template: role trust and inline policies, managed policies, key policies, bucket,
queue and topic policies, Lambda permissions) and security group rule changes (inline
rules and standalone ingress/egress resources). Then the resource-level summary.

Statements are matched by (resource, policy, Sid): a Sid whose content differs is
`changed`; a statement without a Sid is matched by its whole content, so editing it
shows as removed + added. Intrinsics are shown CDK-style: `${Role.Arn}`, `${Bucket}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

# Properties holding one policy document, per resource type ("*": any type).
POLICY_PROPERTIES = ("AssumeRolePolicyDocument", "PolicyDocument", "KeyPolicy")
SG_INLINE = {"SecurityGroupIngress": "ingress", "SecurityGroupEgress": "egress"}
SG_STANDALONE = {
    "AWS::EC2::SecurityGroupIngress": "ingress",
    "AWS::EC2::SecurityGroupEgress": "egress",
}
PEER_KEYS = (
    "CidrIp",
    "CidrIpv6",
    "SourceSecurityGroupId",
    "DestinationSecurityGroupId",
    "SourcePrefixListId",
    "DestinationPrefixListId",
    "SourceSecurityGroupName",
)


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict) or any(k.startswith("Fn::") or k == "Ref" for k in value):
        return [show(value)]
    return sorted(f"{kind}:{show(v)}" for kind, items in value.items() for v in _as_list(items))


# -- IAM statements -----------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    resource: str  # logical id of the resource holding the document
    policy: str  # which document: trust, an inline policy name, KeyPolicy...
    sid: str
    effect: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: str  # compact JSON, "" when none

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("principals", "actions", "resources"):
            data[key] = list(data[key])
        return data


def _statement(resource: str, policy: str, raw: Mapping[str, Any], index: int) -> Statement:
    actions = [show(a) for a in _as_list(raw.get("Action"))]
    actions += [f"not {show(a)}" for a in _as_list(raw.get("NotAction"))]
    targets = [show(r) for r in _as_list(raw.get("Resource"))]
    targets += [f"not {show(r)}" for r in _as_list(raw.get("NotResource"))]
    principals = _principal(raw.get("Principal"))
    principals += [f"not {p}" for p in _principal(raw.get("NotPrincipal"))]
    condition = raw.get("Condition")
    return Statement(
        resource=resource,
        policy=policy,
        sid=str(raw.get("Sid", "")),
        effect=str(raw.get("Effect", "")),
        principals=tuple(sorted(principals)),
        actions=tuple(sorted(actions)),
        resources=tuple(sorted(targets)),
        condition=show(condition) if condition is not None else "",
    )


def _documents(logical_id: str, resource: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    properties = resource.get("Properties") or {}
    if not isinstance(properties, dict):
        return
    for name in POLICY_PROPERTIES:
        if name in properties:
            label = "trust" if name == "AssumeRolePolicyDocument" else name
            if name == "PolicyDocument" and "PolicyName" in properties:
                label = show(properties["PolicyName"])
            yield label, properties[name]
    for policy in _as_list(properties.get("Policies")):
        if isinstance(policy, dict):
            yield show(policy.get("PolicyName", "?")), policy.get("PolicyDocument")
    for arn in _as_list(properties.get("ManagedPolicyArns")):
        # An attached managed policy grants what it says: shown as one pseudo-statement.
        yield "ManagedPolicyArns", {"Statement": [{"Effect": "Attach", "Resource": arn}]}
    if resource.get("Type") == "AWS::Lambda::Permission":
        yield (
            "LambdaPermission",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": properties.get("Principal")},
                        "Action": properties.get("Action"),
                        "Resource": properties.get("FunctionName"),
                        **(
                            {"Condition": {"SourceArn": properties["SourceArn"]}}
                            if "SourceArn" in properties
                            else {}
                        ),
                    }
                ]
            },
        )


def iam_statements(template: Mapping[str, Any]) -> dict[tuple[str, str, str], Statement]:
    """Every IAM statement, keyed by (resource, policy, Sid or content)."""
    found: dict[tuple[str, str, str], Statement] = {}
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if not isinstance(resource, dict):
            continue
        for policy, document in _documents(logical_id, resource):
            if not isinstance(document, dict):
                continue
            for index, raw in enumerate(_as_list(document.get("Statement"))):
                if not isinstance(raw, dict):
                    continue
                statement = _statement(logical_id, policy, raw, index)
                identity = statement.sid or json.dumps(statement.row(), sort_keys=True)
                found[(logical_id, policy, identity)] = statement
    return found


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


def _compare(old: Mapping[Any, Any], new: Mapping[Any, Any], row: Any) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(old) | set(new), key=str):
        if key not in old:
            changes.append(Change("added", row(new[key])))
        elif key not in new:
            changes.append(Change("removed", row(old[key])))
        elif old[key] != new[key]:
            changes.append(Change("changed", row(new[key]), row(old[key])))
    return changes


def iam_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return _compare(iam_statements(old), iam_statements(new), Statement.row)


# -- security group rules -----------------------------------------------------------------


def _group_name(value: Any) -> str:
    """`${Sg.GroupId}` and `${Sg}` both name the logical id Sg."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return str(arg)
        if key == "Fn::GetAtt" and isinstance(arg, list) and arg[-1:] == ["GroupId"]:
            return str(arg[0])
    return show(value)


@dataclass(frozen=True)
class Rule:
    group: str
    direction: str
    protocol: str
    ports: str
    peer: str
    description: str

    def key(self) -> tuple[str, ...]:
        return (self.group, self.direction, self.protocol, self.ports, self.peer)

    def row(self) -> dict[str, Any]:
        return asdict(self)


def _rule(group: str, direction: str, raw: Mapping[str, Any]) -> Rule:
    protocol = show(raw.get("IpProtocol", ""))
    low, high = raw.get("FromPort"), raw.get("ToPort")
    if protocol in {"-1", "all"}:
        protocol, ports = "all", "all"
    elif low is None and high is None:
        ports = "all"
    else:
        ports = show(low) if low == high else f"{show(low)}-{show(high)}"
    peers = [
        f"{'sg:' if 'SecurityGroup' in k else ''}{_group_name(raw[k])}"
        for k in PEER_KEYS
        if k in raw
    ]
    return Rule(
        group, direction, protocol, ports, ",".join(peers) or "-", show(raw.get("Description", ""))
    )


def security_group_rules(template: Mapping[str, Any]) -> dict[tuple[str, ...], Rule]:
    rules: dict[tuple[str, ...], Rule] = {}
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        found: list[Rule] = []
        if kind == "AWS::EC2::SecurityGroup":
            for prop, direction in SG_INLINE.items():
                found += [
                    _rule(logical_id, direction, raw)
                    for raw in _as_list(properties.get(prop))
                    if isinstance(raw, dict)
                ]
        elif kind in SG_STANDALONE:
            found.append(
                _rule(_group_name(properties.get("GroupId")), SG_STANDALONE[kind], properties)
            )
        for rule in found:
            rules[rule.key()] = rule
    return rules


def security_group_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return _compare(security_group_rules(old), security_group_rules(new), Rule.row)


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
