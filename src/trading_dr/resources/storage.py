"""S3 of one region: config and audit buckets, their access-log bucket, and replication.

Replication follows the rollout plan (DESIGN.md): a source rule needs a versioned
destination that already exists, so each region replicates to its peer only once the
peer's bucket ARNs arrive as stage parameters (condition `ReplicateToPeer`). The secondary
is created with them (replicating back to the primary, for failback); the primary gets
them at the link stage. The audit bucket is Object Lock (WORM), and Object Lock buckets
replicate only to Object Lock buckets, which the peer's audit bucket is too.
"""

from __future__ import annotations

from awacs import s3
from awacs.aws import (
    Action,
    ArnLike,
    Bool,
    Condition,
    NumericLessThan,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.iam import Role
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    DefaultRetention,
    LifecycleConfiguration,
    LifecycleRule,
    LifecycleRuleTransition,
    LoggingConfiguration,
    NoncurrentVersionExpiration,
    ObjectLockConfiguration,
    ObjectLockRule,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from trading_dr.config_sections import ArchiveMode
from trading_dr.policies import allow, deny, document
from trading_dr.resources.bucket_replication import add_replication_role, replication_rule
from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext
from trading_dr.resources.vocabulary.inputs import StageInputs
from trading_dr.resources.vocabulary.refs import AWSHelperFn, KeyRefs, StorageRefs

MULTIPART_ABORT_DAYS = 7
ALL_S3_ACTIONS = Action("s3", "*")


# The data buckets (by purpose) whose server access logs go to the access-log bucket.
LOGGED_BUCKETS = ("config", "audit")
LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"


def bucket_name(ctx: StackContext, purpose: str) -> Sub:
    """trading-<suffix>-<purpose>-<region>-<account>: unique across regions and accounts."""
    return Sub(f"{ctx.name(purpose, ctx.region)}-${{AWS::AccountId}}")


def _public_access_blocked() -> PublicAccessBlockConfiguration:
    return PublicAccessBlockConfiguration(
        BlockPublicAcls=True,
        BlockPublicPolicy=True,
        IgnorePublicAcls=True,
        RestrictPublicBuckets=True,
    )


def _kms_encryption(keys: KeyRefs) -> BucketEncryption:
    return BucketEncryption(
        ServerSideEncryptionConfiguration=[
            ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                    SSEAlgorithm="aws:kms", KMSMasterKeyID=keys.data_key_arn
                ),
                # One data key per bucket instead of one KMS call per object.
                BucketKeyEnabled=True,
            )
        ]
    )


def _tls_only_policy(
    template: Template, logical_id: str, bucket: Bucket, *grants: Statement
) -> BucketPolicy:
    """Deny every request that is not TLS 1.2+; deny is on `s3:*` because narrower is weaker.
    `grants` are the bucket's Allow statements, if any."""
    arns = [GetAtt(bucket, "Arn"), Sub("${Bucket}/*", Bucket=GetAtt(bucket, "Arn"))]
    return template.add_resource(
        BucketPolicy(
            logical_id,
            Bucket=Ref(bucket),
            PolicyDocument=document(
                *grants,
                deny(
                    "DenyInsecureTransport",
                    [ALL_S3_ACTIONS],
                    arns,
                    Condition(Bool("aws:SecureTransport", "false")),
                    principal=Principal("*"),
                ),
                deny(
                    "DenyTlsBelow12",
                    [ALL_S3_ACTIONS],
                    arns,
                    Condition(NumericLessThan("s3:TlsVersion", 1.2)),
                    principal=Principal("*"),
                ),
            ),
        )
    )


def _log_delivery_grant(ctx: StackContext, bucket: Bucket, sources: tuple[str, ...]) -> Statement:
    """S3 delivers server access logs as logging.s3.amazonaws.com, and under
    BucketOwnerEnforced only a bucket policy can let it write ("Permissions can only be
    granted using policies", PutBucketLogging): each source bucket's prefix, only for
    this account's source buckets (aws:SourceAccount, aws:SourceArn; rules pack E9004)."""
    source_arns = [
        Sub(f"arn:${{AWS::Partition}}:s3:::{ctx.name(purpose, ctx.region)}-${{AWS::AccountId}}")
        for purpose in sources
    ]
    return allow(
        "AllowServerAccessLogDelivery",
        (s3.PutObject,),
        [Sub(f"${{Bucket}}/{purpose}/*", Bucket=GetAtt(bucket, "Arn")) for purpose in sources],
        Condition(
            [
                StringEquals("aws:SourceAccount", Ref("AWS::AccountId")),
                ArnLike("aws:SourceArn", source_arns),
            ]
        ),
        principal=Principal("Service", LOG_DELIVERY_SERVICE),
    )


def _access_log_bucket(
    template: Template, ctx: StackContext, sources: tuple[str, ...]
) -> tuple[Bucket, BucketPolicy]:
    """Target of the `sources` buckets' server access logs (each under `<purpose>/`).

    S3 log delivery supports only SSE-S3 on its target and no Object Lock default
    retention, so this bucket differs from the data buckets in exactly those two ways
    (rules pack E9005). The policy is returned so the source buckets can depend on it:
    logging is switched on only once delivery is allowed.
    """
    bucket = template.add_resource(
        Bucket(
            "AccessLogsBucket",
            BucketName=bucket_name(ctx, "access-logs"),
            BucketEncryption=BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        )
                    )
                ]
            ),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=_public_access_blocked(),
            OwnershipControls=OwnershipControls(
                Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=LifecycleConfiguration(
                Rules=[
                    LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=ctx.env.storage.audit_retention_days,
                        NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=1),
                        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=MULTIPART_ABORT_DAYS
                        ),
                    )
                ]
            ),
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    policy = _tls_only_policy(
        template, "AccessLogsBucketPolicy", bucket, _log_delivery_grant(ctx, bucket, sources)
    )
    return bucket, policy


def _audit_lifecycle(ctx: StackContext) -> LifecycleRule:
    storage = ctx.env.storage
    if storage.audit_after_retention is ArchiveMode.GLACIER:
        # Kept for the retention period in S3, then archived until audit_archive_days.
        return LifecycleRule(
            Id="archive-audit-records",
            Status="Enabled",
            Transitions=[
                LifecycleRuleTransition(
                    StorageClass="DEEP_ARCHIVE", TransitionInDays=storage.audit_retention_days
                )
            ],
            ExpirationInDays=storage.audit_archive_days,
            NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=1),
            AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                DaysAfterInitiation=MULTIPART_ABORT_DAYS
            ),
        )
    return LifecycleRule(
        Id="expire-audit-records",
        Status="Enabled",
        ExpirationInDays=storage.audit_retention_days,
        # Object Lock still protects every version until its retention date passes.
        NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=1),
        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
            DaysAfterInitiation=MULTIPART_ABORT_DAYS
        ),
    )


def _data_bucket(
    template: Template,
    ctx: StackContext,
    keys: KeyRefs,
    inputs: StageInputs,
    role: Role,
    logs: tuple[Bucket, BucketPolicy],
    purpose: str,
    peer_arn: AWSHelperFn,
    **extra: object,
) -> Bucket:
    logical = purpose.capitalize()
    bucket = template.add_resource(
        Bucket(
            f"{logical}Bucket",
            BucketName=bucket_name(ctx, purpose),
            BucketEncryption=_kms_encryption(keys),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=_public_access_blocked(),
            OwnershipControls=OwnershipControls(
                Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LoggingConfiguration=LoggingConfiguration(
                DestinationBucketName=Ref(logs[0]), LogFilePrefix=f"{purpose}/"
            ),
            ReplicationConfiguration=replication_rule(
                ctx, inputs, role, peer_arn, f"{purpose}-to-peer"
            ),
            Tags=ctx.tags(),
            DependsOn=[logs[1].title],
            **KEEP_DATA,
            **extra,
        )
    )
    _tls_only_policy(template, f"{logical}BucketPolicy", bucket)
    return bucket


def add_storage(
    template: Template, ctx: StackContext, keys: KeyRefs, inputs: StageInputs
) -> StorageRefs:
    storage = ctx.env.storage
    role = add_replication_role(template, ctx, keys, inputs)
    logs = _access_log_bucket(template, ctx, LOGGED_BUCKETS)
    config = _data_bucket(
        template,
        ctx,
        keys,
        inputs,
        role,
        logs,
        "config",
        inputs.peer_config_bucket_arn,
        LifecycleConfiguration=LifecycleConfiguration(
            Rules=[
                LifecycleRule(
                    Id="expire-old-config-versions",
                    Status="Enabled",
                    NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                        NoncurrentDays=storage.noncurrent_version_days
                    ),
                    AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                        DaysAfterInitiation=MULTIPART_ABORT_DAYS
                    ),
                )
            ]
        ),
    )
    audit = _data_bucket(
        template,
        ctx,
        keys,
        inputs,
        role,
        logs,
        "audit",
        inputs.peer_audit_bucket_arn,
        LifecycleConfiguration=LifecycleConfiguration(Rules=[_audit_lifecycle(ctx)]),
        # Immutable audit trail: no version can be deleted or overwritten in retention.
        ObjectLockEnabled=True,
        ObjectLockConfiguration=ObjectLockConfiguration(
            ObjectLockEnabled="Enabled",
            Rule=ObjectLockRule(
                DefaultRetention=DefaultRetention(
                    Mode=storage.object_lock_mode, Days=storage.audit_retention_days
                )
            ),
        ),
    )
    return StorageRefs(
        config_bucket=Ref(config),
        config_bucket_arn=GetAtt(config, "Arn"),
        audit_bucket=Ref(audit),
        audit_bucket_arn=GetAtt(audit, "Arn"),
        replication_role_arn=GetAtt(role, "Arn"),
    )
