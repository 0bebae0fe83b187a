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

from trading_dr.context import KEEP_DATA, StackContext
from trading_dr.refs import AWSHelperFn

SESSION_KEY = "session_token"
EXPIRY_ATTRIBUTE = "expires_at"  # epoch seconds; DynamoDB TTL deletes expired sessions


def sessions_table_name(ctx: StackContext) -> str:
    return f"user-sessions-{ctx.env.suffix}"


def replicas(ctx: StackContext) -> list[ReplicaSpecification]:
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


def add_sessions_table(template: Template, ctx: StackContext) -> tuple[AWSHelperFn, AWSHelperFn]:
    """Add the global table; returns (name Ref, ARN GetAtt)."""
    table = template.add_resource(
        GlobalTable(
            "SessionsTable",
            TableName=sessions_table_name(ctx),
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                AttributeDefinition(AttributeName=SESSION_KEY, AttributeType="S")
            ],
            KeySchema=[KeySchema(AttributeName=SESSION_KEY, KeyType="HASH")],
            Replicas=replicas(ctx),
            SSESpecification=GlobalTableSSESpecification(SSEEnabled=True, SSEType="KMS"),
            # Global tables (2019.11.21) replicate through streams with both images.
            StreamSpecification=StreamSpecification(StreamViewType="NEW_AND_OLD_IMAGES"),
            TimeToLiveSpecification=TimeToLiveSpecification(
                AttributeName=EXPIRY_ATTRIBUTE, Enabled=True
            ),
            **KEEP_DATA,
        )
    )
    return Ref(table), GetAtt(table, "Arn")


def regional_table_arn(table_name: AWSHelperFn, index: str | None = None) -> Sub:
    """A global table's replica in this stack's region (the global stage outputs only its
    own region's ARN), or one of its indexes: what IAM scopes DynamoDB calls to."""
    return Sub(
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}"
        + (f"/index/{index}" if index else ""),
        Table=table_name,
    )
