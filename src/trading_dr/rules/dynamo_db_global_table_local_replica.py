"""E9009: a DynamoDB global table has a replica in the region its stack is deployed to."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, resources_of
from trading_dr.rules import CATALOGUE


class DynamoDbGlobalTableLocalReplica(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["DynamoDbGlobalTableLocalReplica"]
    description = (
        "CloudFormation creates an AWS::DynamoDB::GlobalTable from the stack's own region "
        "and refuses one whose Replicas have no entry for that region ('The Replicas section "
        "must contain an entry for the current region'). Checked for each region the "
        "template is linted for"
    )
    tags = ["resources", "dynamodb", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for logical, table in resources_of(cfn.template, "AWS::DynamoDB::GlobalTable"):
            replicas = properties(table).get("Replicas")
            regions = [
                replica.get("Region")
                for replica in (replicas if isinstance(replicas, list) else [])
                if isinstance(replica, dict)
            ]
            if {"Ref": "AWS::Region"} in regions:
                continue
            for region in cfn.regions:
                if region not in regions:
                    matches.append(
                        RuleMatch(
                            ["Resources", logical, "Properties", "Replicas"],
                            f"{logical} has no replica in {region}, the region its stack is "
                            "deployed to",
                        )
                    )
        return matches
