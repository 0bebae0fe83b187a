"""E9003: a global database's engine version is one RDS can create and make global."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, resources_of
from trading_dr.engine_versions import check_engine_version
from trading_dr.rules import CATALOGUE


class RdsGlobalEngineVersion(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["RdsGlobalEngineVersion"]
    description = (
        "The EngineVersion of an AWS::RDS::GlobalCluster and of every aurora-postgresql "
        "cluster that joins one must not be deprecated (cfn-lint's W3690 data) and must be a "
        "version that supports Aurora global databases"
    )
    tags = ["resources", "rds", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for logical, resource in resources_of(
            cfn.template, "AWS::RDS::GlobalCluster", "AWS::RDS::DBCluster"
        ):
            props = properties(resource)
            member = resource["Type"] == "AWS::RDS::GlobalCluster" or (
                "GlobalClusterIdentifier" in props
            )
            version = props.get("EngineVersion")
            if not member or props.get("Engine") != "aurora-postgresql":
                continue
            if not isinstance(version, str):
                matches.append(
                    RuleMatch(
                        ["Resources", logical, "Properties"],
                        f"{logical}: set EngineVersion to a literal version: members of a "
                        "global database must run the same one",
                    )
                )
                continue
            try:
                check_engine_version(version)
            except ValueError as error:
                matches.append(
                    RuleMatch(
                        ["Resources", logical, "Properties", "EngineVersion"],
                        f"{logical}: engine version {error}",
                    )
                )
        return matches
