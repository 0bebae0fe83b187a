"""The architecture diagram as graphviz DOT, derived from the rendered templates.

Both regions side by side with the global resources between them; solid arrows are data
flows (API -> intake -> queue -> processor -> Aurora / S3), dashed coloured arrows are
replication (Aurora global, DynamoDB global table, S3), dotted green arrows DNS failover.
Every edge comes from a reference in a template (Ref, GetAtt, Sub, or a stage parameter
matched to the output that feeds it), so the picture cannot claim a flow the templates lack.
"""

from __future__ import annotations

import itertools
import re
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
            self.nodes.setdefault(
                synthetic, (Role.GLOBAL, f"{name}\\n{show(value)}\\n(existing)", "")
            )
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


# The overview keeps what crosses regions: data stores, the API, DNS and the workflow.
OVERVIEW_TYPES = (
    *STATEFUL_TYPES,
    "replica",
    "AWS::Route53::HostedZone",
    "AWS::Route53::RecordSet",
    "AWS::ApiGateway::RestApi",
    "AWS::StepFunctions::StateMachine",
    "",  # an existing resource passed in by id (e.g. the dev hosted zone)
)
# Rank order of the left-to-right layout, by the part a resource plays in a request.
_HEADER = [
    "  newrank=true; rankdir=LR; nodesep=0.1; ranksep=0.5; splines=true;",
    '  graph [fontname="DejaVu Sans", color="#607d8b", fontsize=14];',
    '  node [fontname="DejaVu Sans", fontsize=11, style=filled, margin="0.08,0.04"];',
    '  edge [fontname="DejaVu Sans", fontsize=9];',
]


_WIRING = re.compile(r"^([a-z]+(_[a-z]+)+|[A-Z][a-z]+([A-Z][a-z]+)+)$")


def _wiring(label: str) -> bool:
    return bool(label) and all(_WIRING.match(part) for part in label.split(", "))


def _stub_label(graph: _Graph, ident: str) -> str:
    role, label, _ = graph.nodes[ident]
    return f"{role.value}:\\n{label}"


def _node_line(ident: str, label: str, kind: str, stub: bool) -> str:
    short, shape, fill = NODE_STYLE.get(kind, ("", "cylinder" if kind else "folder", "#ede7f6"))
    text = f"{label}\\n{short}" if short else label
    extra = ', style="filled,dashed", fillcolor="#ffffff"' if stub else ""
    return f"    {ident} [{_attributes(label=text, shape=shape, fillcolor=fill)}{extra}];"


def _dot(
    title: str,
    templates: Templates,
    clusters: list[tuple[Role, list[str]]],
    graph: _Graph,
    edges: list[Edge],
    stubs: frozenset[str] = frozenset(),
    columns: bool = False,
) -> str:
    """`columns`: each cluster one column of the left-to-right layout, in the given order
    (the overview); otherwise dot ranks the nodes top to bottom by their links."""
    lines = [
        f'digraph "{_escape(title)}" {{',
        *_HEADER,
        f"  graph [{_attributes(label=title, labelloc='t', fontsize='18')}];",
    ]
    if not columns:
        lines[1] = lines[1].replace("rankdir=LR", "rankdir=TB")
    for role, idents in clusters:
        if any(ident in stubs for ident in idents):
            # Outside any cluster, so dot places each next to what it links to.
            lines += [_node_line(i, _stub_label(graph, i), graph.nodes[i][2], True) for i in idents]
            continue
        label = _column(role, templates)
        lines.append(f"  subgraph cluster_{role.value} {{")
        lines.append(f"    graph [{_attributes(label=label, style='rounded')}];")
        for ident in idents:
            _, text, kind = graph.nodes[ident]
            lines.append(_node_line(ident, text, kind, ident in stubs))
        lines.append("  }")
    if columns:
        for _, idents in clusters:
            if idents:
                lines.append(f"  {{ rank=same; {'; '.join(idents)}; }}")
        heads = [idents[0] for _, idents in clusters if idents]
        lines += [f"  {a} -> {b} [style=invis];" for a, b in itertools.pairwise(heads)]
    drawn = {ident for _, idents in clusters for ident in idents}
    pairs = {(edge.source, edge.target, edge.kind, edge.label) for edge in edges}
    for edge in edges:
        if edge.source in drawn and edge.target in drawn:
            # Wiring names (environment variables, workflow substitutions) say how, not
            # what: they go to the tooltip, so labels never crowd the boxes.
            shown = "tooltip" if _wiring(edge.label) else "label"
            attributes = f"{_attributes(**{shown: edge.label})}, {EDGE_STYLE[edge.kind]}"
            if (edge.target, edge.source, edge.kind, edge.label) in pairs:
                # Replication both ways (the link stage): one arrow with two heads, drawn
                # from this template's side so the peer sits below rather than beside.
                if edge.source in stubs or (edge.target not in stubs and edge.source > edge.target):
                    continue
                attributes += ", dir=both"
            lines.append(f"  {edge.source} -> {edge.target} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _order(templates: Templates) -> list[Role]:
    return [r for r in (Role.PRIMARY, Role.GLOBAL, Role.SECONDARY) if r in templates] + [
        r for r in templates if r not in (Role.PRIMARY, Role.GLOBAL, Role.SECONDARY)
    ]


def overview_dot(templates: Templates, title: str) -> str:
    """Every template as a cluster, stacked top to bottom (left-to-right ranks put the
    clusters one under the other), with only what links the regions: data stores and their
    replication, the API and the DNS failover."""
    graph = _Graph(templates)
    edges = [e for e in _merged(_edges(graph)) if e.kind in ("replication", "dns")]
    clusters = [
        (
            role,
            [
                i
                for i, (r, _, kind) in graph.nodes.items()
                # The observer's only part is its probe: show it whole.
                if r is role and (kind in OVERVIEW_TYPES or r is Role.OBSERVER)
            ],
        )
        for role in _order(templates)
    ]
    return _dot(title, templates, clusters, graph, edges, columns=True)


def region_dot(templates: Templates, role: Role, title: str) -> str:
    """One template in full; what it links to in other templates drawn as dashed stubs."""
    graph = _Graph(templates)
    own = {i for i, (r, _, _) in graph.nodes.items() if r is role}
    edges = [e for e in _merged(_edges(graph)) if e.source in own or e.target in own]
    linked = {end for e in edges for end in (e.source, e.target)} - own
    mine = [i for i in graph.nodes if i in own]
    others = [i for i in graph.nodes if i in linked]
    clusters = [(role, mine)] + ([(Role.GLOBAL, others)] if others else [])
    return _dot(title, templates, clusters, graph, edges, frozenset(linked))


def diagrams(templates: Templates, title: str) -> dict[str, str]:
    """File stem -> DOT source: the overview, then one diagram per regional template."""
    sources = {"architecture": overview_dot(templates, f"{title}: overview")}
    for role in _order(templates):
        if role is not Role.GLOBAL:
            sources[f"architecture-{role.value}"] = region_dot(
                templates, role, f"{title}: {_column(role, templates)}"
            )
    return sources
