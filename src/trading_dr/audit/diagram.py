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

from trading_dr.audit.edges import edges_of, merged
from trading_dr.audit.graph import NODE_STYLE, Edge, Graph
from trading_dr.audit.model import (
    Templates,
    region_of,
)
from trading_dr.config import Role

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


def _stub_label(graph: Graph, ident: str) -> str:
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
    graph: Graph,
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
    graph = Graph(templates)
    edges = [e for e in merged(edges_of(graph)) if e.kind in ("replication", "dns")]
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
    graph = Graph(templates)
    own = {i for i, (r, _, _) in graph.nodes.items() if r is role}
    edges = [e for e in merged(edges_of(graph)) if e.source in own or e.target in own]
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
