"""E9006: an API Gateway Deployment is renamed whenever what it snapshots changes."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import (
    depends_on,
    properties,
    referenced,
    resources_of,
    snapshot_hash,
    snapshot_members,
)
from trading_dr.rules import CATALOGUE


class ApiGatewayDeploymentSnapshot(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["ApiGatewayDeploymentSnapshot"]
    description = (
        "A Deployment is a snapshot of its RestApi's resources, methods, models, validators, "
        "authorizers and gateway responses taken when it is created; CloudFormation does not "
        "create a new one when they change. Its logical id must end with the content hash of "
        "all of them (trading_dr.cfn_template.snapshot_hash) and it must DependsOn each, "
        "so every change is redeployed and nothing is created after the snapshot"
    )
    tags = ["resources", "apigateway", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        matches = []
        for logical, resource in resources_of(template, "AWS::ApiGateway::Deployment"):
            api = referenced(properties(resource).get("RestApiId"))
            if api is None:
                continue
            members = snapshot_members(template, api)
            missing = sorted(set(members) - depends_on(resource))
            if missing:
                matches.append(
                    RuleMatch(
                        ["Resources", logical, "DependsOn"],
                        f"{logical} snapshots {api} but does not DependsOn {', '.join(missing)}",
                    )
                )
            expected = snapshot_hash(members)
            if not logical.endswith(expected):
                matches.append(
                    RuleMatch(
                        ["Resources", logical],
                        f"{logical}: the logical id must end with {expected}, the content hash "
                        f"of what it snapshots, so a change to {api} creates a new Deployment",
                    )
                )
        return matches
