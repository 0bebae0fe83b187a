"""The intake journal: DynamoDB global table `trade-journal-<suffix>` (global template).

Intake writes each accepted trade here (conditional on its trade_id) before answering
202 and before queueing it; global-table replication puts it into the other region's
replica in about a second; the reconciler in the writer region replays entries missing
from Aurora. Like the sessions table it is owned by the global stage (a GlobalTable
must be managed by one stack in one region), on-demand, with PITR, SSE on the
AWS-managed key per replica, deletion protection and TTL.

The sparse index `pending-by-minute` (partition key `pending` = minute#shard, sort key
`accepted_at`) holds only the entries not yet reconciled: the reconciler reads a time
window with one Query per minute and shard, never a Scan. Attribute and index names are
those of lambda_src/shared/trading_shared/journal.py (a test holds them equal).
"""

from __future__ import annotations

from troposphere import Template
from troposphere.dynamodb import GlobalTableGlobalSecondaryIndex, KeySchema, Projection

from trading_dr.resources.sessions import add_global_table
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn

KEY = "trade_id"
TRADE = "trade"
ACCEPTED_AT = "accepted_at"
PENDING = "pending"
EXPIRES_AT = "expires_at"
REGION = "region"
PENDING_INDEX = "pending-by-minute"
SHARDS = 4
ATTRIBUTES = (KEY, TRADE, ACCEPTED_AT, PENDING, EXPIRES_AT, REGION)


def journal_table_name(ctx: StackContext) -> str:
    return f"trade-journal-{ctx.env.suffix}"


def add_journal_table(template: Template, ctx: StackContext) -> tuple[AWSHelperFn, AWSHelperFn]:
    """Add the journal global table; returns (name Ref, ARN GetAtt)."""
    return add_global_table(
        template, ctx, "JournalTable", journal_table_name(ctx),
        {KEY: "S", PENDING: "S", ACCEPTED_AT: "N"}, KEY, EXPIRES_AT,
        GlobalSecondaryIndexes=[
            GlobalTableGlobalSecondaryIndex(
                IndexName=PENDING_INDEX,
                KeySchema=[
                    KeySchema(AttributeName=PENDING, KeyType="HASH"),
                    KeySchema(AttributeName=ACCEPTED_AT, KeyType="RANGE"),
                ],
                # What a replay needs, and nothing that would make the index a copy.
                Projection=Projection(ProjectionType="INCLUDE", NonKeyAttributes=[TRADE]),
            )
        ],
    )  # fmt: skip
