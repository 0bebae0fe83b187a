"""The intake journal: every accepted trade, written to a DynamoDB global table before 202.

Item (key `trade_id`):
- `trade`: the canonical trade JSON, exactly what is queued;
- `accepted_at`: epoch milliseconds when intake accepted it;
- `pending`: `<yyyymmddHHMM>#<shard>` while the trade is not known to be in Aurora. The
  reconciler removes it once it sees the trade stored, so the index on it is sparse: it
  holds only trades not yet reconciled, and the reconciler reads a time window of them
  with one Query per minute and shard instead of a Scan of the table;
- `expires_at`: epoch seconds for DynamoDB TTL;
- `region`: the region whose intake accepted it.

The `shard` spreads one minute's entries over SHARDS index partitions: a single partition
takes at most 1,000 writes per second (DynamoDB Developer Guide, "Using write sharding to
distribute workloads evenly"), and every new entry also writes the index.

The generator (trading_dr.journal) names the same attributes and index; a test holds the
two lists equal, as the generator cannot import Lambda code.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from trading_shared.trade import Trade

KEY = "trade_id"
TRADE = "trade"
ACCEPTED_AT = "accepted_at"
PENDING = "pending"
EXPIRES_AT = "expires_at"
REGION = "region"
PENDING_INDEX = "pending-by-minute"
SHARDS = 4


class Recorded(StrEnum):
    NEW = "new"  # first time this trade_id is seen: queue it
    RETRY = "retry"  # the same trade again: answer as before, queue nothing
    CONFLICT = "conflict"  # the trade_id is taken by a different trade: refuse


@dataclass(frozen=True)
class JournalResult:
    outcome: Recorded
    conflicting_fields: tuple[str, ...] = ()


def minute_of(epoch_ms: int) -> str:
    return time.strftime("%Y%m%d%H%M", time.gmtime(epoch_ms // 1000))


def shard_of(trade_id: str) -> int:
    # trade_id is a canonical UUID (validated): its last hex digits are uniformly spread.
    return int(trade_id[-4:], 16) % SHARDS


def pending_key(minute: str, shard: int) -> str:
    return f"{minute}#{shard}"


def journal_item(trade: Trade, *, accepted_ms: int, region: str, ttl_days: int) -> dict[str, Any]:
    return {
        KEY: {"S": trade.trade_id},
        TRADE: {"S": trade.to_json()},
        ACCEPTED_AT: {"N": str(accepted_ms)},
        PENDING: {"S": pending_key(minute_of(accepted_ms), shard_of(trade.trade_id))},
        EXPIRES_AT: {"N": str(accepted_ms // 1000 + ttl_days * 86_400)},
        REGION: {"S": region},
    }


def record_trade(
    dynamodb: Any, table: str, trade: Trade, *, now: float, region: str, ttl_days: int
) -> JournalResult:
    """PutItem only if the trade_id is new (attribute_not_exists on the key); when it is
    not, the refused call returns the stored item (ReturnValuesOnConditionCheckFailure
    ALL_OLD), which tells an exact retry from a reused id without a second read."""
    item = journal_item(trade, accepted_ms=int(now * 1000), region=region, ttl_days=ttl_days)
    try:
        dynamodb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": KEY},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
        stored = old.get(TRADE, {}).get("S")
        if stored is None:
            # Documented to come back with ALL_OLD; without it, nothing proves a retry.
            raise
        return compare(stored, item[TRADE]["S"])
    return JournalResult(Recorded.NEW)


def compare(stored: str, offered: str) -> JournalResult:
    """Both are canonical JSON (sorted keys, normalised decimals): equal text, same trade."""
    if stored == offered:
        return JournalResult(Recorded.RETRY)
    before, after = json.loads(stored), json.loads(offered)
    fields = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return JournalResult(Recorded.CONFLICT, tuple(fields))


@dataclass(frozen=True)
class Entry:
    """A journal entry not yet reconciled, as the pending index returns it."""

    trade_id: str
    body: str  # the canonical trade JSON, as queued
    accepted_ms: int


def query_pending(dynamodb: Any, table: str, key: str, cutoff_ms: int) -> list[Entry]:
    """Every entry of one minute#shard partition of the pending index accepted at or
    before `cutoff_ms`: one Query (paginated), reading only what the window asks for."""
    entries: list[Entry] = []
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": PENDING_INDEX,
        "KeyConditionExpression": "#p = :p AND #a <= :cutoff",
        "ExpressionAttributeNames": {"#p": PENDING, "#a": ACCEPTED_AT},
        "ExpressionAttributeValues": {":p": {"S": key}, ":cutoff": {"N": str(cutoff_ms)}},
    }
    while True:
        page = dynamodb.query(**request)
        for item in page.get("Items", []):
            entries.append(Entry(item[KEY]["S"], item[TRADE]["S"], int(item[ACCEPTED_AT]["N"])))
        if "LastEvaluatedKey" not in page:
            return entries
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def clear_pending(dynamodb: Any, table: str, trade_id: str) -> None:
    """Take a reconciled entry out of the pending index. Conditional on the marker, so a
    concurrent clear is harmless and an entry TTL already deleted is not recreated."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={KEY: {"S": trade_id}},
            UpdateExpression="REMOVE #p",
            ConditionExpression="attribute_exists(#p)",
            ExpressionAttributeNames={"#p": PENDING},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
