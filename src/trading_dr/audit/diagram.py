"""The architecture diagram as graphviz DOT, derived from the rendered templates.

Both regions side by side with the global resources between them; solid arrows are data
flows (API -> intake -> queue -> processor -> Aurora / S3), dashed coloured arrows are
replication (Aurora global, DynamoDB global table, S3), dotted green arrows DNS failover.
Every edge comes from a reference in a template (Ref, GetAtt, Sub, or a stage parameter
matched to the output that feeds it), so the picture cannot claim a flow the templates lack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from trading_dr.audit.model import (
    Json,
    Templates,
    of_type,
    props,
    referenced,
    region_of,
    resources,
    show,
)
from trading_dr.config import Role

# Resource types drawn as nodes: (short kind, shape, fill colour).
NODE_STYLE: dict[str, tuple[str, str, str]] = {
    "AWS::Route53::HostedZone": ("Route 53 zone", "folder", "#e8f5e9"),
    "AWS::Route53::RecordSet": ("DNS record", "note", "#e8f5e9"),
    "AWS::Route53::HealthCheck": ("health check", "octagon", "#e8f5e9"),
    "AWS::ApiGateway::RestApi": ("REST API", "component", "#fff3e0"),
    "AWS::Lambda::Function": ("Lambda", "box", "#fff8e1"),
    "AWS::SQS::Queue": ("SQS queue", "cds", "#fce4ec"),
    "AWS::RDS::GlobalCluster": ("Aurora global cluster", "cylinder", "#e3f2fd"),
    "AWS::RDS::DBCluster": ("Aurora cluster", "cylinder", "#e3f2fd"),
    "AWS::DynamoDB::GlobalTable": ("DynamoDB global table", "cylinder", "#ede7f6"),
    "AWS::S3::Bucket": ("S3 bucket", "folder", "#f1f8e9"),
    "AWS::StepFunctions::StateMachine": ("Step Functions", "hexagon", "#e0f7fa"),
    "AWS::SNS::Topic": ("SNS topic", "cds", "#fce4ec"),
    "AWS::Events::Rule": ("EventBridge rule", "ellipse", "#f5f5f5"),
}
# Data stores: the diagram must name every one of them (tested).
STATEFUL_TYPES = (
    "AWS::RDS::GlobalCluster",
    "AWS::RDS::DBCluster",
    "AWS::DynamoDB::GlobalTable",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
)
EDGE_STYLE = {
    "flow": 'color="#37474f"',
    "control": 'color="#9e9e9e", fontcolor="#757575"',
    "replication": 'style=dashed, penwidth=2, color="#1565c0", fontcolor="#1565c0"',
    "dns": 'style=dotted, penwidth=1.5, color="#2e7d32", fontcolor="#2e7d32"',
}
REPLICA = "SessionsReplica"  # per-region node standing for the global table's replica


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str


def node_id(role: Role, logical: str) -> str:
    return f"{role.value}_{logical}"


class _Graph:
    """Resolves a template reference to the node it stands for, across templates."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates
        self.nodes: dict[str, tuple[Role, str, str]] = {}  # id -> (role, label, type)
        for role, logical, resource in of_type(templates, *NODE_STYLE):
            if resource["Type"] == "AWS::Events::Rule" and not _targets(resource):
                continue
            self.nodes[node_id(role, logical)] = (role, logical, resource["Type"])
        for _, _, resource in of_type(templates, "AWS::DynamoDB::GlobalTable"):
            for replica in props(resource).get("Replicas", []):
                region_role = self._role_of_region(str(replica.get("Region")))
                if region_role is not None:
                    label = f"sessions replica ({replica['Region']})"
                    self.nodes[node_id(region_role, REPLICA)] = (region_role, label, "replica")

    def _role_of_region(self, region: str) -> Role | None:
        for role, template in self.templates.items():
            if role is not Role.GLOBAL and region_of(template) == region:
                return role
        return None

    def resolve(self, role: Role, logical: str) -> str | None:
        """The node a logical id of `role`'s template stands for, or None."""
        if node_id(role, logical) in self.nodes:
            return node_id(role, logical)
        template = self.templates[role]
        if logical in template.get("Parameters", {}):
            return self._parameter(role, logical)
        resource = resources(template).get(logical)
        if resource and resource["Type"] == "AWS::ApiGateway::DomainName":
            for mapping in resources(template).values():
                p = props(mapping)
                if mapping["Type"] == "AWS::ApiGateway::BasePathMapping" and logical in referenced(
                    p.get("DomainName")
                ):
                    return self._first(role, referenced(p.get("RestApiId")))
        return None

    def _first(self, role: Role, logicals: set[str]) -> str | None:
        found = sorted(filter(None, (self.resolve(role, name) for name in logicals)))
        return found[0] if found else None

    def _parameter(self, role: Role, name: str) -> str | None:
        """A stage parameter: the output of the global stage, or of the peer ('Peer' + name)."""
        if Role.GLOBAL in self.templates and name in self.templates[Role.GLOBAL].get("Outputs", {}):
            value = self.templates[Role.GLOBAL]["Outputs"][name]["Value"]
            for logical in sorted(referenced(value)):
                kind = resources(self.templates[Role.GLOBAL]).get(logical, {}).get("Type")
                if kind == "AWS::DynamoDB::GlobalTable" and node_id(role, REPLICA) in self.nodes:
                    return node_id(role, REPLICA)  # each region talks to its own replica
                if node_id(Role.GLOBAL, logical) in self.nodes:
                    return node_id(Role.GLOBAL, logical)
            # An existing resource passed in by id (e.g. a hosted zone the stack does not own).
            synthetic = node_id(Role.GLOBAL, f"Existing{name}")
            self.nodes.setdefault(synthetic, (Role.GLOBAL, f"{name} {show(value)} (existing)", ""))
            return synthetic
        peer_output = name.removeprefix("Peer")
        for peer, template in self.templates.items():
            if peer in (role, Role.GLOBAL) or not name.startswith("Peer"):
                continue
            output = template.get("Outputs", {}).get(peer_output)
            if output is not None:
                return self._first(peer, referenced(output["Value"]))
        return None


def _targets(rule: Json) -> list[Json]:
    targets: list[Json] = props(rule).get("Targets", [])
    return targets


def _edges(graph: _Graph) -> Iterator[Edge]:
    for role, template in graph.templates.items():
        found = resources(template)

        def link(
            source: str | None, value: Json, label: str, kind: str, role: Role = role
        ) -> Iterator[Edge]:
            if source is None:
                return
            for logical in sorted(referenced(value)):
                target = graph.resolve(role, logical)
                if target is not None and target != source:
                    yield Edge(source, target, label, kind)

        for logical, resource in found.items():
            me = graph.resolve(role, logical) if node_id(role, logical) in graph.nodes else None
            p, kind = props(resource), resource["Type"]
            if kind == "AWS::Lambda::Function":
                for var, value in p.get("Environment", {}).get("Variables", {}).items():
                    yield from link(me, value, var.lower(), "flow")
            elif kind == "AWS::ApiGateway::Method":
                api = graph._first(role, referenced(p.get("RestApiId")))
                path = show(
                    found.get(show(p.get("ResourceId")).removeprefix("!Ref "), {})
                    .get("Properties", {})
                    .get("PathPart", "")
                )
                yield from link(
                    api,
                    p.get("Integration", {}).get("Uri"),
                    f"{p.get('HttpMethod')} /{path}",
                    "flow",
                )
            elif kind == "AWS::Lambda::EventSourceMapping":
                function = graph._first(role, referenced(p.get("FunctionName")))
                for source in sorted(referenced(p.get("EventSourceArn"))):
                    queue = graph.resolve(role, source)
                    if queue and function:
                        yield Edge(queue, function, "poll", "flow")
            elif kind == "AWS::SQS::Queue":
                yield from link(me, p.get("RedrivePolicy"), "redrive", "flow")
            elif kind == "AWS::StepFunctions::StateMachine":
                for key, value in p.get("DefinitionSubstitutions", {}).items():
                    yield from link(me, value, key, "control")
            elif kind == "AWS::Events::Rule" and me:
                # A rule fires on a schedule or on the alarms its pattern names.
                alarms = sorted(referenced(p.get("EventPattern")))
                trigger = p.get("ScheduleExpression") or f"on {', '.join(alarms) or 'event'}"
                for target in _targets(resource):
                    yield from link(me, target.get("Arn"), trigger, "control")
            elif kind == "AWS::RDS::DBCluster":
                yield from link(
                    me, p.get("GlobalClusterIdentifier"), "Aurora global member", "replication"
                )
            elif kind == "AWS::S3::Bucket":
                config = p.get("ReplicationConfiguration")
                for rule in _rules(config):
                    minutes = rule.get("Destination", {}).get("ReplicationTime", {})
                    rtc = f" (RTC {minutes['Time']['Minutes']} min)" if minutes else ""
                    yield from link(
                        me,
                        rule.get("Destination", {}).get("Bucket"),
                        f"S3 replication{rtc}",
                        "replication",
                    )
            elif kind == "AWS::Route53::RecordSet":
                zone = graph._first(role, referenced(p.get("HostedZoneId")))
                if zone and me:
                    yield Edge(zone, me, str(p.get("Failover", "alias")), "dns")
                target = "alias" if "AliasTarget" in p else f"{p.get('Type')} TTL {p.get('TTL')} s"
                yield from link(me, [p.get("AliasTarget"), p.get("ResourceRecords")], target, "dns")
                yield from link(me, p.get("HealthCheckId"), "evaluates", "dns")
            elif kind == "AWS::Route53::HealthCheck":
                config = p.get("HealthCheckConfig", {})
                yield from link(me, config.get("ChildHealthChecks"), "child", "dns")
        if role is Role.GLOBAL:
            for logical, resource in found.items():
                if resource["Type"] == "AWS::DynamoDB::GlobalTable":
                    for replica_node, (_, _, kind) in graph.nodes.items():
                        if kind == "replica":
                            yield Edge(
                                node_id(role, logical), replica_node, "replica", "replication"
                            )


def _rules(config: Json) -> list[Json]:
    if isinstance(config, dict) and "Fn::If" in config:
        config = config["Fn::If"][1]
    rules: list[Json] = config.get("Rules", []) if isinstance(config, dict) else []
    return rules


def _merged(edges: Iterator[Edge]) -> list[Edge]:
    """One arrow per (source, target, kind), its labels joined: e.g. db_host, db_port."""
    labels: dict[tuple[str, str, str], list[str]] = {}
    for edge in edges:
        found = labels.setdefault((edge.source, edge.target, edge.kind), [])
        if edge.label and edge.label not in found:
            found.append(edge.label)
    return [
        Edge(source, target, ", ".join(sorted(found)), kind)
        for (source, target, kind), found in sorted(labels.items())
    ]


def _attributes(**values: str) -> str:
    return ", ".join(f'{key}="{_escape(value)}"' for key, value in values.items())


def _escape(text: str) -> str:
    # Backslashes stay: DOT reads "\\n" in a label as a line break.
    return text.replace('"', '\\"')


def _column(role: Role, templates: Templates) -> str:
    if role is Role.GLOBAL:
        return "global (deployed once, in the primary region)"
    return f"{role.value} region {region_of(templates[role])}"


def to_dot(templates: Templates, title: str) -> str:
    """The DOT source: one cluster per template, primary | global | secondary."""
    graph = _Graph(templates)
    edges = _merged(_edges(graph))
    order = [r for r in (Role.PRIMARY, Role.GLOBAL, Role.SECONDARY) if r in templates]
    lines = [
        f'digraph "{_escape(title)}" {{',
        "  newrank=true; rankdir=TB; compound=true; nodesep=0.25; ranksep=0.45;",
        '  graph [fontname="DejaVu Sans", color="#607d8b"];',
        f"  graph [{_attributes(label=title, labelloc='t', fontsize='20')}];",
        '  node [fontname="DejaVu Sans", fontsize=10, style=filled];',
        '  edge [fontname="DejaVu Sans", fontsize=8];',
    ]
    for role in order:
        lines.append(f"  subgraph cluster_{role.value} {{")
        lines.append(f"    graph [{_attributes(label=_column(role, templates), style='rounded')}];")
        for ident, (node_role, label, kind) in graph.nodes.items():
            if node_role is not role:
                continue
            short, shape, fill = NODE_STYLE.get(
                kind, ("", "cylinder" if kind else "folder", "#ede7f6")
            )
            text = f"{label}\\n{short}" if short else label
            lines.append(f"    {ident} [{_attributes(label=text, shape=shape, fillcolor=fill)}];")
        lines.append("  }")
    # Keep the three columns in order: stores of each column share a rank, left to right.
    anchors = [
        ident
        for role in order
        for ident, (node_role, _, kind) in graph.nodes.items()
        if node_role is role and kind in ("AWS::RDS::DBCluster", "AWS::RDS::GlobalCluster")
    ]
    if len(anchors) > 1:
        lines.append(f"  {{ rank=same; {'; '.join(anchors)}; }}")
        lines.append(f"  {' -> '.join(anchors)} [style=invis];")
    for edge in edges:
        if edge.source in graph.nodes and edge.target in graph.nodes:
            style = EDGE_STYLE[edge.kind]
            constraint = ", constraint=false" if edge.kind == "replication" else ""
            attributes = f"{_attributes(label=edge.label)}, {style}{constraint}"
            lines.append(f"  {edge.source} -> {edge.target} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
