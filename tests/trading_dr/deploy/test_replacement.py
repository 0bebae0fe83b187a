"""Which changes replace a resource (create-only properties from cfn-lint's schemas) and
how `diff` shows properties old -> new, stateful replacements first (issue 14 item 8)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_dr.deploy import replacement
from trading_dr.deploy.diff import StageDiff, render_text
from trading_dr.deploy.templatediff import _leaf_changes, diff_templates

CLUSTER: dict[str, Any] = {
    "Type": "AWS::RDS::DBCluster",
    "DeletionPolicy": "Snapshot",
    "UpdateReplacePolicy": "Snapshot",
    "Properties": {
        "DBClusterIdentifier": "trading-prod-db",
        "StorageEncrypted": True,
        "BackupRetentionPeriod": 14,
        "KmsKeyId": {"Fn::GetAtt": ["DataKey", "Arn"]},
    },
}
QUEUE: dict[str, Any] = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}
TOPIC: dict[str, Any] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms"}}
BASE = {"Resources": {"Cluster": CLUSTER, "Queue": QUEUE, "Topic": TOPIC}}


def changed(edit: dict[str, dict[str, Any]]) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    for logical_id, properties in edit.items():
        new["Resources"][logical_id]["Properties"].update(properties)
    return new


@pytest.mark.parametrize(
    ("resource_type", "path", "replaces"),
    [
        ("AWS::RDS::DBCluster", ("DBClusterIdentifier",), True),
        ("AWS::RDS::DBCluster", ("StorageEncrypted",), True),
        ("AWS::RDS::DBCluster", ("BackupRetentionPeriod",), False),
        ("AWS::S3::Bucket", ("BucketName",), True),
        ("AWS::S3::Bucket", ("VersioningConfiguration", "Status"), False),
        ("AWS::SQS::Queue", ("QueueName",), True),
        ("AWS::SQS::Queue", ("VisibilityTimeout",), False),
        ("AWS::EC2::SecurityGroup", ("GroupDescription",), True),
        ("AWS::Lambda::Function", ("FunctionName",), True),
        ("AWS::Lambda::Function", ("MemorySize",), False),
        ("AWS::DynamoDB::GlobalTable", ("TableName",), True),
        ("Custom::Anything", ("Anything",), None),
        ("AWS::Nothing::Known", ("Anything",), None),
    ],
)
def test_create_only_properties_replace(
    resource_type: str, path: tuple[str, ...], replaces: bool | None
) -> None:
    assert replacement.replaces(resource_type, path) is replaces


def test_a_nested_create_only_pointer_matches_inside_and_around() -> None:
    assert replacement._matches(["A", "*", "B"], ("A", "0", "B", "C"))
    assert replacement._matches(["A", "B"], ("A",))  # A replaced whole: B changes with it
    assert not replacement._matches(["A", "B"], ("A", "C"))


def test_the_vendored_create_only_list_is_cfn_lints() -> None:
    vendored = json.loads(replacement.DATA.read_text())
    types = replacement.rendered_types()
    assert types <= set(vendored), "fix: python -m trading_dr.deploy.replacement --write"
    assert vendored == replacement.refresh(vendored), (
        "cfn-lint's schemas changed; fix: python -m trading_dr.deploy.replacement --write"
    )


def test_properties_are_shown_old_to_new_with_replacements_first() -> None:
    new = changed(
        {
            "Cluster": {"StorageEncrypted": False, "BackupRetentionPeriod": 21},
            "Queue": {"VisibilityTimeout": 60},
            "Topic": {"TopicName": "alarms-2"},
        }
    )

    result = diff_templates(BASE, new).resources

    assert [(c.item["logical_id"], c.item["replacement"], c.item["stateful"]) for c in result] == [
        ("Cluster", True, True),
        ("Topic", True, False),
        ("Queue", False, True),
    ]
    assert result[0].item["properties"] == [
        {"path": "BackupRetentionPeriod", "before": "14", "after": "21", "replaces": False},
        {"path": "StorageEncrypted", "before": "true", "after": "false", "replaces": True},
    ]
    text = render_text(
        [StageDiff("primary", "trading-prod-primary", "changed", diff_templates(BASE, new))]
    )
    assert text[1] == "Replacements (CloudFormation creates a new resource, then deletes the old):"
    assert text[2] == (
        "  !! Cluster (AWS::RDS::DBCluster): STATEFUL, replaced by StorageEncrypted; "
        "UpdateReplacePolicy Snapshot: the old one is snapshotted, then deleted"
    )
    assert text[3] == "  !  Topic (AWS::SNS::Topic): replaced by TopicName"
    assert "      StorageEncrypted: true -> false  [replaces]" in text
    assert "      VisibilityTimeout: 30 -> 60" in text


def test_intrinsics_and_attributes_are_shown_cdk_style() -> None:
    new = copy.deepcopy(BASE)
    cluster = new["Resources"]["Cluster"]
    cluster["Properties"]["KmsKeyId"] = {"Ref": "OtherKey"}
    cluster["UpdateReplacePolicy"] = "Delete"
    (change,) = diff_templates(BASE, new).resources

    assert change.item["properties"] == [
        {"path": "KmsKeyId", "before": "${DataKey.Arn}", "after": "${OtherKey}", "replaces": True},
        {"path": "UpdateReplacePolicy", "before": "Snapshot", "after": "Delete", "replaces": False},
    ]
    line = render_text([StageDiff("p", "s", "changed", diff_templates(BASE, new))])[2]
    assert line.endswith("UpdateReplacePolicy Delete: THE OLD ONE IS DELETED WITH ITS DATA")


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(st.text(max_size=3), values, max_size=4),
    st.dictionaries(st.text(max_size=3), values, max_size=4),
)
def test_leaf_changes_are_empty_exactly_when_equal_and_name_real_paths(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    leaves = list(_leaf_changes(before, after, ()))
    assert (leaves == []) == (before == after)
    for path, old, new in leaves:
        assert old != new
        assert path, "a top-level map change is always below a property"


def test_snapshot_on_a_type_without_snapshots_is_a_delete() -> None:
    topic = {**TOPIC, "UpdateReplacePolicy": "Snapshot", "DeletionPolicy": "Snapshot"}
    old = {"Resources": {"Topic": topic}}
    new = {"Resources": {"Topic": {**topic, "Properties": {"TopicName": "alarms-2"}}}}

    line = render_text([StageDiff("p", "s", "changed", diff_templates(old, new))])[2]

    assert line == (
        "  !! Topic (AWS::SNS::Topic): STATEFUL, replaced by TopicName; "
        "UpdateReplacePolicy Snapshot (unsupported: Delete): THE OLD ONE IS DELETED WITH ITS DATA"
    )
