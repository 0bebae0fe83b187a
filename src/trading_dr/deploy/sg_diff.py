"""Security group rule changes between two templates: inline rules and standalone
ingress/egress resources, matched by (group, direction, protocol, ports, peer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from trading_dr.deploy.template_values import Change, as_list, compare, show

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
                    for raw in as_list(properties.get(prop))
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
    return compare(security_group_rules(old), security_group_rules(new), Rule.row)
