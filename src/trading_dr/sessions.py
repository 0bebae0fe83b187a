"""DynamoDB global table of user sessions, `user-sessions-<suffix>` (global template).

A GlobalTable must be owned by one stack in one region, so it lives in the global
template with a replica per region. Encryption uses the AWS-managed key per replica:
a customer key of the secondary region cannot exist before this (first) stage runs.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
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


def add_sessions_table(template: Template, ctx: StackContext) -> tuple[AWSHelperFn, AWSHelperFn]:
    """Add the global table; returns (name Ref, ARN GetAtt)."""
    replicas = [
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
    table = template.add_resource(
        GlobalTable(
            "SessionsTable",
            TableName=sessions_table_name(ctx),
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                AttributeDefinition(AttributeName=SESSION_KEY, AttributeType="S")
            ],
            KeySchema=[KeySchema(AttributeName=SESSION_KEY, KeyType="HASH")],
            Replicas=replicas,
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
