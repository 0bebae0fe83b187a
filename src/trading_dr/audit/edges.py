"""The diagram's edges: for each resource type, which of its references is an arrow, of
which kind (flow, control, replication, dns) and with which label. One function per type,
looked up in EDGE_RULES; every edge comes from a reference in a template."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from trading_dr.audit.graph import Edge, Graph, node_id, targets
from trading_dr.audit.model import Json, props, referenced, resources, show
from trading_dr.config import Role


@dataclass(frozen=True)
class _Scope:
    """One template of the graph: what its references resolve against."""

    graph: Graph
    role: Role
    found: dict[str, Json]

    def link(self, source: str | None, value: Json, label: str, kind: str) -> Iterator[Edge]:
        if source is None:
            return
        for logical in sorted(referenced(value)):
            target = self.graph.resolve(self.role, logical)
            if target is not None and target != source:
                yield Edge(source, target, label, kind)

    def first(self, value: Json) -> str | None:
        return self.graph.first(self.role, referenced(value))


# (scope, the resource's own node or None, its Properties, the resource) -> edges
EdgeRule = Callable[[_Scope, str | None, Json, Json], Iterator[Edge]]


def _function(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    for var, value in p.get("Environment", {}).get("Variables", {}).items():
        yield from scope.link(me, value, var.lower(), "flow")


def _method(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    api = scope.first(p.get("RestApiId"))
    path = show(
        scope.found.get(show(p.get("ResourceId")).removeprefix("!Ref "), {})
        .get("Properties", {})
        .get("PathPart", "")
    )
    yield from scope.link(
        api, p.get("Integration", {}).get("Uri"), f"{p.get('HttpMethod')} /{path}", "flow"
    )


def _event_source(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    function = scope.first(p.get("FunctionName"))
    for source in sorted(referenced(p.get("EventSourceArn"))):
        queue = scope.graph.resolve(scope.role, source)
        if queue and function:
            yield Edge(queue, function, "poll", "flow")


def _queue(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    yield from scope.link(me, p.get("RedrivePolicy"), "redrive", "flow")


def _state_machine(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    for key, value in p.get("DefinitionSubstitutions", {}).items():
        yield from scope.link(me, value, key, "control")


def _event_rule(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    if not me:
        return
    # A rule fires on a schedule or on the alarms its pattern names.
    alarms = sorted(referenced(p.get("EventPattern")))
    trigger = p.get("ScheduleExpression") or f"on {', '.join(alarms) or 'event'}"
    for target in targets(resource):
        yield from scope.link(me, target.get("Arn"), trigger, "control")


def _db_cluster(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    yield from scope.link(
        me, p.get("GlobalClusterIdentifier"), "Aurora global member", "replication"
    )


def _bucket(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    for rule in _rules(p.get("ReplicationConfiguration")):
        minutes = rule.get("Destination", {}).get("ReplicationTime", {})
        rtc = f" (RTC {minutes['Time']['Minutes']} min)" if minutes else ""
        yield from scope.link(
            me, rule.get("Destination", {}).get("Bucket"), f"S3 replication{rtc}", "replication"
        )


def _record(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    zone = scope.first(p.get("HostedZoneId"))
    if zone and me:
        yield Edge(zone, me, str(p.get("Failover", "alias")), "dns")
    target = "alias" if "AliasTarget" in p else f"{p.get('Type')} TTL {p.get('TTL')} s"
    yield from scope.link(me, [p.get("AliasTarget"), p.get("ResourceRecords")], target, "dns")
    yield from scope.link(me, p.get("HealthCheckId"), "evaluates", "dns")


def _health_check(scope: _Scope, me: str | None, p: Json, resource: Json) -> Iterator[Edge]:
    config = p.get("HealthCheckConfig", {})
    yield from scope.link(me, config.get("ChildHealthChecks"), "child", "dns")


EDGE_RULES: dict[str, EdgeRule] = {
    "AWS::Lambda::Function": _function,
    "AWS::ApiGateway::Method": _method,
    "AWS::Lambda::EventSourceMapping": _event_source,
    "AWS::SQS::Queue": _queue,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _event_rule,
    "AWS::RDS::DBCluster": _db_cluster,
    "AWS::S3::Bucket": _bucket,
    "AWS::Route53::RecordSet": _record,
    "AWS::Route53::HealthCheck": _health_check,
}


def edges_of(graph: Graph) -> Iterator[Edge]:
    for role, template in graph.templates.items():
        scope = _Scope(graph, role, resources(template))
        for logical, resource in scope.found.items():
            me = graph.resolve(role, logical) if node_id(role, logical) in graph.nodes else None
            rule = EDGE_RULES.get(resource["Type"])
            if rule is not None:
                yield from rule(scope, me, props(resource), resource)
        if role is Role.GLOBAL:
            yield from _global_table_replicas(scope)


def _global_table_replicas(scope: _Scope) -> Iterator[Edge]:
    for logical, resource in scope.found.items():
        if resource["Type"] == "AWS::DynamoDB::GlobalTable":
            for replica_node, (_, _, kind) in scope.graph.nodes.items():
                if kind == "replica":
                    yield Edge(node_id(scope.role, logical), replica_node, "replica", "replication")


def _rules(config: Json) -> list[Json]:
    if isinstance(config, dict) and "Fn::If" in config:
        config = config["Fn::If"][1]
    rules: list[Json] = config.get("Rules", []) if isinstance(config, dict) else []
    return rules


def merged(edges: Iterator[Edge]) -> list[Edge]:
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
