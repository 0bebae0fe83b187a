"""DynamoDB global table of user sessions, `user-sessions-<suffix>` (global template).

A GlobalTable must be owned by one stack in one region, so it lives in the global
template with a replica per region. Encryption uses the AWS-managed key per replica:
a customer key of the secondary region cannot exist before this (first) stage runs.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.dynamodb import (
    AttributeDefinition,
    GlobalTable,
    GlobalTableSSESpecification,
    KeySchema,
    PointInTimeRecoverySpecification,
    ReplicaSpecification,
    ReplicaSSESpecification,
    StreamSpecification,
    TimeToLiveSpecification,
)

from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn

SESSION_KEY = "session_token"
EXPIRY_ATTRIBUTE = "expires_at"  # epoch seconds; DynamoDB TTL deletes expired sessions


def sessions_table_name(ctx: StackContext) -> str:
    return f"user-sessions-{ctx.env.suffix}"


def _replicas(ctx: StackContext) -> list[ReplicaSpecification]:
    """One replica per region: PITR, the AWS-managed key, deletion protection, tags."""
    return [
        ReplicaSpecification(
            Region=settings.region,
            PointInTimeRecoverySpecification=PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
            SSESpecification=ReplicaSSESpecification(KMSMasterKeyId="alias/aws/dynamodb"),
            DeletionProtectionEnabled=True,
            Tags=ctx.tags(),
        )
        for settings in (ctx.env.primary, ctx.env.secondary)
    ]


def add_global_table(
    template: Template,
    ctx: StackContext,
    logical: str,
    name: str,
    attributes: dict[str, str],
    key: str,
    expiry_attribute: str,
    **extra: object,
) -> tuple[AWSHelperFn, AWSHelperFn]:
    """A global table as every one here is: on-demand, a replica per region (PITR,
    AWS-managed key, deletion protection), streams, TTL on `expiry_attribute`, data kept.
    `attributes` maps each key attribute (of the table and its indexes) to its type.
    Returns (name Ref, ARN GetAtt)."""
    table = template.add_resource(
        GlobalTable(
            logical,
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                AttributeDefinition(AttributeName=n, AttributeType=t) for n, t in attributes.items()
            ],
            KeySchema=[KeySchema(AttributeName=key, KeyType="HASH")],
            Replicas=_replicas(ctx),
            SSESpecification=GlobalTableSSESpecification(SSEEnabled=True, SSEType="KMS"),
            # Global tables (2019.11.21) replicate through streams with both images.
            StreamSpecification=StreamSpecification(StreamViewType="NEW_AND_OLD_IMAGES"),
            TimeToLiveSpecification=TimeToLiveSpecification(
                AttributeName=expiry_attribute, Enabled=True
            ),
            **extra,
            **KEEP_DATA,
        )
    )
    return Ref(table), GetAtt(table, "Arn")


def add_sessions_table(template: Template, ctx: StackContext) -> tuple[AWSHelperFn, AWSHelperFn]:
    """Add the sessions global table; returns (name Ref, ARN GetAtt)."""
    return add_global_table(
        template, ctx, "SessionsTable", sessions_table_name(ctx), {SESSION_KEY: "S"},
        SESSION_KEY, EXPIRY_ATTRIBUTE,
    )  # fmt: skip


def regional_table_arn(table_name: AWSHelperFn, index: str | None = None) -> Sub:
    """A global table's replica in this stack's region (the global stage outputs only its
    own region's ARN), or one of its indexes: what IAM scopes DynamoDB calls to."""
    return Sub(
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}"
        + (f"/index/{index}" if index else ""),
        Table=table_name,
    )
