"""S3 cross-region replication of the data buckets to the peer region's: the rule, and the
role S3 assumes for it, both present only once the peer's buckets exist (condition
`ReplicateToPeer`, see storage.py)."""

from __future__ import annotations

from awacs import kms, s3
from awacs.aws import Condition, StringEquals
from troposphere import GetAtt, If, NoValue, Sub, Template
from troposphere.iam import Policy, Role
from troposphere.s3 import (
    DeleteMarkerReplication,
    EncryptionConfiguration,
    Metrics,
    ReplicationConfiguration,
    ReplicationConfigurationRules,
    ReplicationConfigurationRulesDestination,
    ReplicationRuleFilter,
    ReplicationTime,
    ReplicationTimeValue,
    SourceSelectionCriteria,
    SseKmsEncryptedObjects,
)

from trading_dr.policies import allow, document, service_trust
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.inputs import StageInputs
from trading_dr.resources.vocabulary.refs import AWSHelperFn, KeyRefs

# S3 Replication Time Control: 99.99% of objects within 15 minutes (the SLA'd RPO of S3).
RTC_MINUTES = 15
# Read side of replication, on this region's source buckets and their object versions.
SOURCE_BUCKET_ACTIONS = (s3.GetReplicationConfiguration, s3.ListBucket)
SOURCE_OBJECT_ACTIONS = (
    s3.GetObjectVersionForReplication,
    s3.GetObjectVersionAcl,
    s3.GetObjectVersionTagging,
    s3.GetObjectRetention,  # Object Lock settings travel with the replica
    s3.GetObjectLegalHold,
)
# Write side, on the peer's buckets only.
DESTINATION_OBJECT_ACTIONS = (
    s3.ReplicateObject,
    s3.ReplicateDelete,
    s3.ReplicateTags,
    s3.ObjectOwnerOverrideToBucketOwner,
)


def replication_rule(
    ctx: StackContext, inputs: StageInputs, role: Role, peer_arn: AWSHelperFn, rule_id: str
) -> If:
    """The replication rule to the peer bucket, present only once the peer exists."""
    return If(
        inputs.replicate_condition,
        ReplicationConfiguration(
            Role=GetAtt(role, "Arn"),
            Rules=[
                ReplicationConfigurationRules(
                    Id=rule_id,
                    Priority=1,
                    Status="Enabled",
                    Filter=ReplicationRuleFilter(Prefix=""),
                    DeleteMarkerReplication=DeleteMarkerReplication(Status="Enabled"),
                    SourceSelectionCriteria=SourceSelectionCriteria(
                        SseKmsEncryptedObjects=SseKmsEncryptedObjects(Status="Enabled")
                    ),
                    Destination=ReplicationConfigurationRulesDestination(
                        Bucket=peer_arn,
                        EncryptionConfiguration=EncryptionConfiguration(
                            ReplicaKmsKeyID=inputs.peer_data_key_arn
                        ),
                        ReplicationTime=ReplicationTime(
                            Status="Enabled", Time=ReplicationTimeValue(Minutes=RTC_MINUTES)
                        ),
                        Metrics=Metrics(
                            Status="Enabled", EventThreshold=ReplicationTimeValue(Minutes=15)
                        ),
                    ),
                )
            ],
        ),
        NoValue,
    )


def add_replication_role(
    template: Template, ctx: StackContext, keys: KeyRefs, inputs: StageInputs
) -> Role:
    """Role S3 assumes to replicate; its permissions exist only while replication is on.

    The bucket ARNs are built from the bucket names, not GetAtt, because the buckets
    reference this role (a GetAtt back would be a cycle).
    """
    own = [
        Sub(f"arn:${{AWS::Partition}}:s3:::{ctx.name(purpose, ctx.region)}-${{AWS::AccountId}}")
        for purpose in ("config", "audit")
    ]
    peers = [inputs.peer_config_bucket_arn, inputs.peer_audit_bucket_arn]
    policy = Policy(
        PolicyName="replicate-to-peer",
        PolicyDocument=document(
            allow("ReadSourceBuckets", SOURCE_BUCKET_ACTIONS, own),
            allow(
                "ReadSourceObjectVersions",
                SOURCE_OBJECT_ACTIONS,
                [Sub("${Arn}/*", Arn=arn) for arn in own],
            ),
            allow(
                "WriteReplicasToPeer",
                DESTINATION_OBJECT_ACTIONS,
                [Sub("${Arn}/*", Arn=arn) for arn in peers],
            ),
            allow(
                "DecryptSourceObjects",
                (kms.Decrypt,),
                [keys.data_key_arn],
                Condition(StringEquals("kms:ViaService", f"s3.{ctx.region}.amazonaws.com")),
            ),
            allow(
                "EncryptReplicasWithPeerKey",
                (kms.Encrypt, kms.GenerateDataKey),
                [inputs.peer_data_key_arn],
                Condition(StringEquals("kms:ViaService", f"s3.{ctx.peer_region}.amazonaws.com")),
            ),
        ),
    )
    return template.add_resource(
        Role(
            "ReplicationRole",
            RoleName=ctx.regional_name("s3-replication"),
            AssumeRolePolicyDocument=service_trust(
                "s3.amazonaws.com",
                Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            ),
            Policies=If(inputs.replicate_condition, [policy], NoValue),
            Tags=ctx.tags(),
        )
    )
