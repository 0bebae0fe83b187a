"""E9007: an encrypted global database member names its own region's KMS key."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, resources_of
from trading_dr.rules import CATALOGUE


class RdsGlobalMemberKmsKey(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["RdsGlobalMemberKmsKey"]
    description = (
        "A secondary cluster of an encrypted global database is created in another region "
        "and must be given a KMS key of that region (KmsKeyId): the primary's key cannot be "
        "used there, and relying on the default differs between primary and secondary"
    )
    tags = ["resources", "rds", "kms", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for logical, resource in resources_of(cfn.template, "AWS::RDS::DBCluster"):
            props = properties(resource)
            encrypted = props.get("StorageEncrypted") in (True, "true", "True")
            if "GlobalClusterIdentifier" in props and encrypted and "KmsKeyId" not in props:
                matches.append(
                    RuleMatch(
                        ["Resources", logical, "Properties"],
                        f"{logical} joins an encrypted global cluster without KmsKeyId; set "
                        "it to a key of the cluster's own region",
                    )
                )
        return matches
