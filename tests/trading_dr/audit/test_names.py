"""Resources in the report are named by what they are: no `!Sub ${Arn}/*` for a reviewer to
decode (issue 14, item 12)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, rendered, template
from trading_dr.audit.iam import iam_section
from trading_dr.audit.names import Namer, partition
from trading_dr.config import Role

# What a template value looks like before it is named: short-form tags, long-form
# intrinsics, ${...} substitutions, and parameters the namer could not follow.
PLACEHOLDER = re.compile(r"\$\{|!(Sub|Ref|GetAtt|If|Join|Select|ImportValue)\b|Fn::|parameter ")


def _templates(env: str) -> dict[Role, Any]:
    return {role: template(env, role) for role in ALL_ROLES}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_iam_tables_name_every_resource(env: str) -> None:
    section = iam_section(_templates(env))
    cells = [cell for t in section.tables for row in t.rows for cell in row]
    assert len(cells) > 500, "the IAM tables are empty: the check below would be vacuous"
    unresolved = [cell for cell in cells if PLACEHOLDER.search(cell)]
    assert unresolved == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_table_of_the_report_shows_a_placeholder(env: str) -> None:
    report = rendered(env).files["audit/REPORT.md"].decode()
    table_lines = [line for line in report.splitlines() if line.startswith("|")]
    assert len(table_lines) > 300
    assert [line for line in table_lines if PLACEHOLDER.search(line)] == []


SAMPLE: dict[Role, Any] = {
    Role.GLOBAL: {
        "Description": "g (us-east-1)",
        "Resources": {"GlobalCluster": {"Type": "AWS::RDS::GlobalCluster"}},
        "Outputs": {"GlobalClusterIdentifier": {"Value": {"Ref": "GlobalCluster"}}},
    },
    Role.PRIMARY: {
        "Description": "p (us-east-1)",
        "Parameters": {
            "GlobalClusterIdentifier": {"Type": "String"},
            "PeerAuditBucketArn": {"Type": "String"},
            "ArtifactBucket": {"Type": "String"},
        },
        "Resources": {
            "AuditBucket": {"Type": "AWS::S3::Bucket"},
            "PrivateSubnetA": {"Type": "AWS::EC2::Subnet"},
            "DbCluster": {"Type": "AWS::RDS::DBCluster"},
        },
        "Outputs": {"AuditBucketArn": {"Value": {"Fn::GetAtt": ["AuditBucket", "Arn"]}}},
    },
    Role.SECONDARY: {
        "Description": "s (cn-north-1)",
        "Parameters": {"PeerAuditBucketArn": {"Type": "String"}},
        "Resources": {"AuditBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"AuditBucketArn": {"Value": {"Fn::GetAtt": ["AuditBucket", "Arn"]}}},
    },
}

CASES = [
    ("whole Ref", Role.PRIMARY, {"Ref": "AuditBucket"}, "AuditBucket"),
    ("GetAtt Arn", Role.PRIMARY, {"Fn::GetAtt": ["DbCluster", "DBClusterArn"]}, "DbCluster"),
    ("GetAtt other", Role.PRIMARY, {"Fn::GetAtt": "DbCluster.Endpoint.Port"}, "DbCluster.Endpoint.Port"),
    ("ARN extended", Role.PRIMARY, {"Fn::Sub": ["${Arn}/*", {"Arn": {"Fn::GetAtt": ["AuditBucket", "Arn"]}}]}, "AuditBucket/*"),
    ("peer parameter", Role.PRIMARY, {"Fn::Sub": ["${Arn}/*", {"Arn": {"Ref": "PeerAuditBucketArn"}}]}, "secondary/AuditBucket/*"),
    ("peer of the secondary", Role.SECONDARY, {"Ref": "PeerAuditBucketArn"}, "primary/AuditBucket"),
    ("global parameter in an ARN", Role.PRIMARY, {"Fn::Sub": ["arn:${AWS::Partition}:rds::${AWS::AccountId}:global-cluster:${Id}", {"Id": {"Ref": "GlobalClusterIdentifier"}}]}, "arn:aws:rds::<account>:global-cluster:<global/GlobalCluster>"),
    ("id inside an ARN", Role.PRIMARY, {"Fn::Sub": ["arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:subnet/${Id}", {"Id": {"Ref": "PrivateSubnetA"}}]}, "arn:aws:ec2:us-east-1:<account>:subnet/<PrivateSubnetA>"),
    ("implicit variable", Role.PRIMARY, {"Fn::Sub": "x-${DbCluster.Endpoint.Address}"}, "x-<DbCluster.Endpoint.Address>"),
    ("pattern variable inlined", Role.PRIMARY, {"Fn::Sub": ["${Arn}/*", {"Arn": {"Fn::Sub": "arn:${AWS::Partition}:s3:::b-${AWS::AccountId}"}}]}, "arn:aws:s3:::b-<account>/*"),
    ("other partition", Role.SECONDARY, {"Fn::Sub": "arn:${AWS::Partition}:s3:::x.${AWS::URLSuffix}"}, "arn:aws-cn:s3:::x.amazonaws.com.cn"),
    ("escaped literal", Role.PRIMARY, {"Fn::Sub": "${!Literal}-${AWS::Region}"}, "${Literal}-us-east-1"),
    ("unfed parameter", Role.PRIMARY, {"Ref": "ArtifactBucket"}, "parameter ArtifactBucket"),
    ("condition", Role.PRIMARY, {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}, "aws:SourceAccount StringEquals <account>"),
    ("principal", Role.PRIMARY, {"Service": ["logs.us-east-1.amazonaws.com"]}, "Service: logs.us-east-1.amazonaws.com"),
    ("both sides of a condition", Role.PRIMARY, {"Fn::If": ["Linked", {"Ref": "AuditBucket"}, "none"]}, "AuditBucket if Linked holds, else none"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "role", "value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_namer_cases(case: str, role: Role, value: Any, expected: str) -> None:
    assert Namer(SAMPLE).name(role, value) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [("us-east-1", "aws"), ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_partition_of_region(region: str, expected: str) -> None:
    assert partition(region) == expected


@given(st.text(alphabet=st.characters(blacklist_characters="$"), max_size=80))
def test_sub_without_variables_is_the_text_itself(text: str) -> None:
    assert Namer(SAMPLE).name(Role.PRIMARY, {"Fn::Sub": text}) == text


@given(st.from_regex(r"[A-Z][A-Za-z0-9]{0,40}", fullmatch=True))
def test_any_unknown_reference_keeps_its_name_and_never_raises(logical: str) -> None:
    named = Namer(SAMPLE).name(Role.PRIMARY, {"Fn::Sub": f"arn:x:${{{logical}}}"})
    assert named in (f"arn:x:<{logical}>", f"arn:x:<parameter {logical}>")
