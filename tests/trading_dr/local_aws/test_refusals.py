"""The local AWS's refusals, one per AWS constraint the project depends on: AWS's error for
what AWS refuses, nothing for what it accepts."""

from __future__ import annotations

from typing import Any

import pytest

from trading_dr.local_aws.refusals import refusal

MEMBER = {"Engine": "aurora-postgresql", "EngineVersion": "16.11", "GlobalClusterIdentifier": "g"}


# fmt: off
CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("managed-password-global-member", "AWS::RDS::DBCluster",
     {**MEMBER, "ManageMasterUserPassword": True}, "isn't supported for DB clusters that are part of an Aurora global database"),
    ("managed-password-as-text", "AWS::RDS::DBCluster",
     {**MEMBER, "ManageMasterUserPassword": "true"}, "InvalidParameterCombination"),
    ("managed-password-alone", "AWS::RDS::DBCluster",
     {"Engine": "aurora-postgresql", "EngineVersion": "16.11", "ManageMasterUserPassword": True}, None),
    ("generated-secret-member", "AWS::RDS::DBCluster",
     {**MEMBER, "MasterUserPassword": "{{resolve:secretsmanager:x:SecretString:password}}"}, None),
    ("secondary-member", "AWS::RDS::DBCluster", MEMBER, None),
    ("deprecated-version", "AWS::RDS::DBCluster",
     {**MEMBER, "EngineVersion": "16.6"}, "Cannot find version 16.6 for aurora-postgresql"),
    ("global-cluster-unknown-version", "AWS::RDS::GlobalCluster",
     {"Engine": "aurora-postgresql", "EngineVersion": "16.99"}, "Cannot find version 16.99"),
    ("global-cluster-current", "AWS::RDS::GlobalCluster",
     {"Engine": "aurora-postgresql", "EngineVersion": "16.11"}, None),
    ("other-type", "AWS::S3::Bucket", {"ManageMasterUserPassword": True}, None),
]
# fmt: on


@pytest.mark.parametrize(("kind", "props", "error"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_refusal(kind: str, props: dict[str, Any], error: str | None) -> None:
    found = refusal({"Type": kind, "Properties": props})
    if error is None:
        assert found is None
    else:
        assert found is not None
        assert error in found
