"""S3: config, audit and access-log buckets per region, TLS-only, WORM audit, replication."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.support.assertions import (
    as_list,
    has_resource_properties,
    resource_count_is,
    resources_of_type,
)
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role
from trading_dr.config_sections import ArchiveMode
from trading_dr.generator import code_keys, lambda_packages
from trading_dr.render import template_dict
from trading_dr.stacks import build_regional

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]
DATA_BUCKETS = ("ConfigBucket", "AuditBucket")
PEER_PARAMETERS = ("PeerConfigBucketArn", "PeerAuditBucketArn", "PeerDataKeyArn")


def _bucket(env: str, role: Role, name: str) -> dict[str, Any]:
    props: dict[str, Any] = template(env, role)["Resources"][name]["Properties"]
    return props


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_three_buckets_each_with_a_policy(env: str, role: Role) -> None:
    t = template(env, role)
    resource_count_is(t, "AWS::S3::Bucket", 3)
    resource_count_is(t, "AWS::S3::BucketPolicy", 3)
    policed = {
        p["Properties"]["Bucket"]["Ref"]
        for p in resources_of_type(t, "AWS::S3::BucketPolicy").values()
    }
    assert policed == set(resources_of_type(t, "AWS::S3::Bucket"))


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_every_bucket_versioned_private_and_encrypted(env: str, role: Role) -> None:
    for name, bucket in resources_of_type(template(env, role), "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, name
        assert len(props["PublicAccessBlockConfiguration"]) == 4, name
        default = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        algorithm = default["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        if name in DATA_BUCKETS:
            assert algorithm == "aws:kms", name
            assert default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
                "Fn::GetAtt": ["DataKey", "Arn"]
            }
            assert default["BucketKeyEnabled"] is True
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {
                "Ref": "AccessLogsBucket"
            }
        else:  # S3 log delivery writes only to SSE-S3 targets
            assert algorithm == "AES256", name


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_bucket_names_unique_per_region_and_account(env: str, role: Role) -> None:
    region = environment(env).region_settings(role).region
    for purpose, name in (("config", "ConfigBucket"), ("audit", "AuditBucket")):
        assert _bucket(env, role, name)["BucketName"] == {
            "Fn::Sub": f"trading-{env}-{purpose}-{region}-${{AWS::AccountId}}"
        }


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_bucket_policies_deny_anything_but_tls_12(env: str, role: Role) -> None:
    for name, policy in resources_of_type(template(env, role), "AWS::S3::BucketPolicy").items():
        statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
        insecure = statements["DenyInsecureTransport"]
        assert insecure["Effect"] == "Deny", name
        assert insecure["Principal"] == "*"
        assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert len(as_list(insecure["Resource"])) == 2, "bucket and its objects"
        old_tls = statements["DenyTlsBelow12"]
        assert old_tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}}
        grants = {sid for sid, s in statements.items() if s["Effect"] != "Deny"}
        expected = {"AllowServerAccessLogDelivery"} if name == "AccessLogsBucketPolicy" else set()
        assert grants == expected, name


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_access_logs_are_delivered_by_policy_scoped_to_own_buckets(env: str, role: Role) -> None:
    # BucketOwnerEnforced ignores ACL grants: S3 log delivery writes only if the policy lets
    # logging.s3.amazonaws.com, for this account's source buckets and their prefixes only.
    t = template(env, role)
    region = environment(env).region_settings(role).region
    policy = t["Resources"]["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]
    grant = next(s for s in policy["Statement"] if s["Sid"] == "AllowServerAccessLogDelivery")
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Action"] == ["s3:PutObject"]
    assert grant["Resource"] == [
        {"Fn::Sub": [f"${{Bucket}}/{p}/*", {"Bucket": {"Fn::GetAtt": ["AccessLogsBucket", "Arn"]}}]}
        for p in ("config", "audit")
    ]
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"] == [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::trading-{env}-{p}-{region}-${{AWS::AccountId}}"}
        for p in ("config", "audit")
    ]
    for name in DATA_BUCKETS:  # logging is switched on only once delivery is allowed
        assert "AccessLogsBucketPolicy" in as_list(t["Resources"][name]["DependsOn"]), name


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_audit_bucket_is_worm_with_the_configured_retention(env: str, role: Role) -> None:
    storage = environment(env).storage
    props = _bucket(env, role, "AuditBucket")
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": storage.object_lock_mode,
        "Days": storage.audit_retention_days,
    }


def test_prod_audit_records_expire_after_90_days() -> None:
    (rule,) = _bucket("prod", Role.PRIMARY, "AuditBucket")["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 90
    assert "Transitions" not in rule


def test_dev_audit_records_are_archived_then_expired() -> None:
    storage = environment("dev").storage
    (rule,) = _bucket("dev", Role.PRIMARY, "AuditBucket")["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"] == [
        {"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": storage.audit_retention_days}
    ]
    assert rule["ExpirationInDays"] == storage.audit_archive_days


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_replication_waits_for_the_peer_and_uses_rtc(env: str, role: Role) -> None:
    t = template(env, role)
    assert t["Conditions"]["ReplicateToPeer"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PeerConfigBucketArn"}, ""]}]
    }
    for name, peer in (
        ("ConfigBucket", "PeerConfigBucketArn"),
        ("AuditBucket", "PeerAuditBucketArn"),
    ):
        condition, replication, otherwise = _bucket(env, role, name)["ReplicationConfiguration"][
            "Fn::If"
        ]
        assert (condition, otherwise) == ("ReplicateToPeer", {"Ref": "AWS::NoValue"})
        (rule,) = replication["Rules"]
        assert rule["Status"] == "Enabled"
        assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
        assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        destination = rule["Destination"]
        assert destination["Bucket"] == {"Ref": peer}
        assert destination["EncryptionConfiguration"] == {
            "ReplicaKmsKeyID": {"Ref": "PeerDataKeyArn"}
        }
        assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
        assert destination["Metrics"]["Status"] == "Enabled"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_peer_parameters_must_be_passed_explicitly(env: str, role: Role) -> None:
    parameters = template(env, role)["Parameters"]
    for name in PEER_PARAMETERS:
        assert "Default" not in parameters[name], f"{name}: the rollout plan decides, not a default"
        assert "^$" in parameters[name]["AllowedPattern"], f"{name}: empty means 'no peer yet'"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_replication_role_is_scoped_and_conditional(env: str, role: Role) -> None:
    region = environment(env).region_settings(role).region
    props = template(env, role)["Resources"]["ReplicationRole"]["Properties"]
    assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["s3.amazonaws.com"]
    }
    condition, (policy,), otherwise = props["Policies"]["Fn::If"]
    assert (condition, otherwise) == ("ReplicateToPeer", {"Ref": "AWS::NoValue"})
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["WriteReplicasToPeer"]["Action"] == [
        "s3:ReplicateObject",
        "s3:ReplicateDelete",
        "s3:ReplicateTags",
        "s3:ObjectOwnerOverrideToBucketOwner",
    ]
    assert statements["WriteReplicasToPeer"]["Resource"] == [
        {"Fn::Sub": ["${Arn}/*", {"Arn": {"Ref": "PeerConfigBucketArn"}}]},
        {"Fn::Sub": ["${Arn}/*", {"Arn": {"Ref": "PeerAuditBucketArn"}}]},
    ]
    decrypt = statements["DecryptSourceObjects"]
    assert decrypt["Resource"] == [{"Fn::GetAtt": ["DataKey", "Arn"]}]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}
    }
    assert statements["EncryptReplicasWithPeerKey"]["Resource"] == [{"Ref": "PeerDataKeyArn"}]


def test_glacier_mode_needs_no_other_change_to_build() -> None:
    """GIVEN prod switched to archiving WHEN built THEN only the audit lifecycle differs."""
    prod = environment("prod")
    storage = replace(prod.storage, audit_after_retention=ArchiveMode.GLACIER)
    archived = template_dict(
        build_regional(
            replace(prod, storage=storage),
            Role.PRIMARY,
            code_keys(lambda_packages()),
        )
    )
    rule = has_resource_properties(
        archived,
        "AWS::S3::Bucket",
        {"LifecycleConfiguration": {"Rules": [{"Id": "archive-audit-records"}]}},
    )
    assert rule == "AuditBucket"
