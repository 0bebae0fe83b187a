"""E9001: no RDS-managed master password on a member of an Aurora global database."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, resources_of
from trading_dr.rules import CATALOGUE


class RdsGlobalMemberManagedPassword(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["RdsGlobalMemberManagedPassword"]
    description = (
        "Managing master user passwords with Secrets Manager isn't supported for DB clusters "
        "that are part of an Aurora global database: use an AWS::SecretsManager::Secret "
        "resolved into MasterUserPassword instead"
    )
    tags = ["resources", "rds", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for logical, resource in resources_of(cfn.template, "AWS::RDS::DBCluster"):
            props = properties(resource)
            if "GlobalClusterIdentifier" in props and props.get("ManageMasterUserPassword") in (
                True,
                "true",
                "True",
            ):
                matches.append(
                    RuleMatch(
                        ["Resources", logical, "Properties", "ManageMasterUserPassword"],
                        f"{logical} joins a global cluster and sets ManageMasterUserPassword, "
                        "which Aurora refuses for global database members; use an "
                        "AWS::SecretsManager::Secret and {{resolve:secretsmanager:...}}",
                    )
                )
        return matches
