"""`trading-dr diff`: rendered vs deployed template and parameters, per stack set.

The deployed side is the stack set's own TemplateBody and Parameters (DescribeStackSet)
plus each instance's ParameterOverrides; when a stack set answers without a body, the
template of its first instance's stack (GetTemplate) stands in. The rendered side is
what `deploy` would send now, with the parameters `plan` resolves (the primary's are
the link stage's: its final state, replicating to the secondary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trading_dr.config import Role
from trading_dr.deploy import stacksets
from trading_dr.deploy.deployed import Deployment, template_body
from trading_dr.deploy.plan import Stage, parse_template, stages
from trading_dr.deploy.retry import call
from trading_dr.deploy.rollout import Rollout
from trading_dr.deploy.template_values import Change, load_template
from trading_dr.deploy.templatediff import TemplateDiff, diff_templates


@dataclass
class StageDiff:
    name: str
    stack_set: str
    status: str  # absent (would be created) | changed | unchanged
    template: TemplateDiff = field(default_factory=TemplateDiff)
    parameters: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stack_set": self.stack_set,
            "status": self.status,
            "iam": [c.as_json() for c in self.template.iam],
            "security_groups": [c.as_json() for c in self.template.security_groups],
            "resources": [c.as_json() for c in self.template.resources],
            "sections": self.template.sections,
            "parameters": [c.as_json() for c in self.parameters],
        }


def diff_stages(dep: Deployment) -> list[Stage]:
    """One stage per stack set; the primary with its final (link) parameters."""
    last: dict[Role, Stage] = {}
    for stage in stages(dep.env):
        if stage.role is not None:
            last[stage.role] = stage
    return [
        last[role]
        for role in (Role.GLOBAL, Role.PRIMARY, Role.SECONDARY, Role.OBSERVER)
        if role in last
    ]


def deployed_template(dep: Deployment, stage: Stage, found: Mapping[str, Any]) -> dict[str, Any]:
    body = found.get("TemplateBody")
    if body:
        return load_template(str(body))
    cfn = dep.clients.client("cloudformation", dep.env.primary.region)
    for summary in stacksets.list_instances(cfn, dep.pacing, stage.stack_set):
        if summary.get("StackId"):
            target = dep.clients.client(
                "cloudformation", str(summary["Region"]), str(summary["Account"])
            )
            answer = call(dep.pacing, target.get_template, StackName=summary["StackId"])
            got = answer.get("TemplateBody", "")
            # boto3 hands a JSON template back already parsed.
            return dict(got) if isinstance(got, dict) else load_template(str(got))
    return {}


def parameter_changes(
    deployed: Mapping[str, Mapping[str, str]], desired: Mapping[str, Mapping[str, str]]
) -> list[Change]:
    """Per account: the parameter values in effect vs those a deploy would set."""
    changes: list[Change] = []
    for account in sorted(set(deployed) | set(desired)):
        old, new = deployed.get(account), desired.get(account, {})
        if old is None:
            changes.append(Change("added", {"account": account, "key": "(instance)"}))
            continue
        for key in sorted(set(old) | set(new)):
            item = {"account": account, "key": key}
            if key not in old:
                changes.append(Change("added", {**item, "value": new[key]}))
            elif key not in new:
                changes.append(Change("removed", {**item, "value": old[key]}))
            elif old[key] != new[key]:
                changes.append(Change("changed", {**item, "value": new[key]}, {"value": old[key]}))
    return changes


def diff(dep: Deployment) -> list[StageDiff]:
    """Read-only: what `deploy` would change, stack set by stack set."""
    rollout = Rollout(dep)
    results: list[StageDiff] = []
    for stage in diff_stages(dep):
        assert stage.role is not None
        rendered = parse_template(template_body(dep.files, stage.role))
        desired = rollout.desired_parameters(stage, planning=True)
        state = rollout.deployed(stage)
        if state.stack_set is None:
            everything = diff_templates({}, rendered)
            added = parameter_changes({account: {} for account in desired}, desired)
            name = stage.role.value
            results.append(StageDiff(name, stage.stack_set, "absent", everything, added))
            continue
        current = deployed_template(dep, stage, state.stack_set)
        set_values = {
            p["ParameterKey"]: p.get("ParameterValue", "")
            for p in state.stack_set.get("Parameters", [])
        }
        in_effect = {
            account: {**set_values, **state.overrides.get(account, {})}
            for account in state.instances
        }
        template_diff = diff_templates(current, rendered)
        parameters = parameter_changes(in_effect, desired)
        status = "changed" if template_diff.changed or parameters else "unchanged"
        results.append(
            StageDiff(stage.role.value, stage.stack_set, status, template_diff, parameters)
        )
    return results


# -- text ----------------------------------------------------------------------------------

SIGN = {"added": "+", "removed": "-", "changed": "~", "modified": "~"}


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    widths[-1] = 0  # the last column is not padded

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _iam_rows(change: Change) -> list[list[str]]:
    def cells(sign: str, item: Mapping[str, Any]) -> list[str]:
        who = ", ".join(item["principals"])
        condition = f" if {item['condition']}" if item["condition"] else ""
        what = ", ".join(item["resources"]) + condition
        return [
            sign,
            f"{item['resource']}/{item['policy']}",
            item["sid"] or "-",
            item["effect"],
            ", ".join(item["actions"]) or "-",
            (f"{who} -> " if who else "") + (what or "-"),
        ]

    rows = [cells(SIGN[change.change], change.item)]
    if change.before is not None:
        rows.append(cells("was", change.before))
    return rows


def _sg_rows(change: Change) -> list[list[str]]:
    def cells(sign: str, item: Mapping[str, Any]) -> list[str]:
        return [
            sign,
            item["group"],
            item["direction"],
            item["protocol"],
            item["ports"],
            item["peer"],
            item["description"],
        ]

    rows = [cells(SIGN[change.change], change.item)]
    if change.before is not None:
        rows.append(cells("was", change.before))
    return rows


# Types whose Snapshot policy takes a snapshot; for any other, CloudFormation deletes
# ("UpdateReplacePolicy attribute", "DeletionPolicy attribute", CloudFormation docs).
SNAPSHOT_TYPES = frozenset(
    {
        "AWS::EC2::Volume",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Neptune::DBCluster",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::Redshift::Cluster",
        "AWS::DocDB::DBCluster",
    }
)
REPLACES = {True: "  [replaces]", None: "  [replacement unknown: no schema]", False: ""}


def _property_line(change: Mapping[str, Any]) -> str:
    return (
        f"{change['path']}: {change['before']} -> {change['after']}{REPLACES[change['replaces']]}"
    )


def _replacement_line(change: Change) -> str:
    item = change.item
    why = ", ".join(p["path"] for p in item["properties"] if p["replaces"]) or "its type changed"
    name = f"{item['logical_id']} ({item['type']})"
    if not item["stateful"]:
        return f"!  {name}: replaced by {why}"
    policy = item["update_replace_policy"]
    if policy == "Snapshot" and item["type"] not in SNAPSHOT_TYPES:
        policy = "Snapshot (unsupported: Delete)"
    kept = {
        "Snapshot": "the old one is snapshotted, then deleted",
        "Retain": "the old one is kept, detached from the stack",
    }.get(policy, "THE OLD ONE IS DELETED WITH ITS DATA")
    return f"!! {name}: STATEFUL, replaced by {why}; UpdateReplacePolicy {policy}: {kept}"


def render_text(diffs: list[StageDiff]) -> list[str]:
    lines: list[str] = []
    for d in diffs:
        note = {"absent": "not deployed: everything below would be created"}.get(d.status, "")
        lines.append(f"== {d.name} ({d.stack_set}): {d.status}" + (f"; {note}" if note else ""))
        if not d.changed:
            continue
        t = d.template
        replaced = [c for c in t.resources if c.item.get("replacement")]
        if replaced:
            lines.append(
                "Replacements (CloudFormation creates a new resource, then deletes the old):"
            )
            lines += [f"  {_replacement_line(c)}" for c in replaced]
        if t.iam:
            lines.append("IAM statement changes:")
            rows = [row for c in t.iam for row in _iam_rows(c)]
            headers = ["", "resource/policy", "sid", "effect", "actions", "principal -> resources"]
            lines += ["  " + line for line in _table(headers, rows)]
        if t.security_groups:
            lines.append("Security group changes:")
            rows = [row for c in t.security_groups for row in _sg_rows(c)]
            headers = ["", "group", "direction", "protocol", "ports", "peer", "description"]
            lines += ["  " + line for line in _table(headers, rows)]
        if t.resources:
            lines.append("Resources:")
            for c in t.resources:
                was = f" (was {c.before['type']})" if c.before else ""
                mark = " [replacement]" if c.item.get("replacement") else ""
                lines.append(
                    f"  {SIGN[c.change]} {c.item['logical_id']} ({c.item['type']}){was}{mark}"
                )
                lines += [f"      {_property_line(p)}" for p in c.item.get("properties", [])]
        if t.sections:
            lines.append(f"Other template sections changed: {', '.join(t.sections)}")
        if d.parameters:
            lines.append("Parameters:")
            for c in d.parameters:
                item = c.item
                if "value" not in item:
                    lines.append(f"  + {item['account']}: new stack instance")
                elif c.before is not None:
                    lines.append(
                        f"  ~ {item['account']} {item['key']}: "
                        f"{c.before['value']!r} -> {item['value']!r}"
                    )
                else:
                    lines.append(
                        f"  {SIGN[c.change]} {item['account']} {item['key']} = {item['value']!r}"
                    )
    changed = sum(d.changed for d in diffs)
    lines.append(f"diff: {len(diffs)} stack set(s), {changed} with changes")
    return lines
