"""The diagram's graph: which template resources are nodes, and the node a template
reference stands for, across templates (a stage parameter is followed to the output of
the stage that fills it)."""

from __future__ import annotations

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
REPLICA = "SessionsReplica"  # per-region node standing for the global table's replica


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str


def node_id(role: Role, logical: str) -> str:
    return f"{role.value}_{logical}"


class Graph:
    """Resolves a template reference to the node it stands for, across templates."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates
        self.nodes: dict[str, tuple[Role, str, str]] = {}  # id -> (role, label, type)
        for role, logical, resource in of_type(templates, *NODE_STYLE):
            if resource["Type"] == "AWS::Events::Rule" and not targets(resource):
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
                    return self.first(role, referenced(p.get("RestApiId")))
        return None

    def first(self, role: Role, logicals: set[str]) -> str | None:
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
                return self.first(peer, referenced(output["Value"]))
        return None


def targets(rule: Json) -> list[Json]:
    targets: list[Json] = props(rule).get("Targets", [])
    return targets
