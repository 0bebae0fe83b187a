"""The few AWS calls the functions make, each a plain function over a boto3 client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from trading_shared.trade import Trade

SESSION_KEY = "session_token"
SESSION_EXPIRY = "expires_at"  # epoch seconds; DynamoDB TTL deletes lazily, so check it too
SESSION_ACCOUNT = "account_id"


def client(
    service: str, *, region: str | None = None, timeout_s: float = 5.0, attempts: int = 3
) -> Any:
    """A client with bounded timeouts: botocore's defaults (60 s reads) outlive an API call."""
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": attempts, "mode": "standard"},
    )
    return boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Session:
    expires_at: int
    account_id: str | None

    def valid_at(self, now: float) -> bool:
        return self.expires_at > now


def get_session(dynamodb: Any, table: str, token: str) -> Session | None:
    """GetItem (strongly consistent in this region's replica); None when there is no such
    session or it is malformed."""
    item = dynamodb.get_item(
        TableName=table,
        Key={SESSION_KEY: {"S": token}},
        ConsistentRead=True,
        ProjectionExpression=f"{SESSION_EXPIRY}, {SESSION_ACCOUNT}",
    ).get("Item")
    if not item or "N" not in item.get(SESSION_EXPIRY, {}):
        return None
    try:
        expires_at = int(item[SESSION_EXPIRY]["N"].split(".")[0])
    except ValueError:
        return None
    account = item.get(SESSION_ACCOUNT, {}).get("S")
    return Session(expires_at=expires_at, account_id=account)


def send_trade(sqs: Any, queue_url: str, trade: Trade) -> str:
    """SendMessage; returns the SQS message id. A standard queue cannot deduplicate, so
    trade_id (in the body and as an attribute) is the processor's idempotency key."""
    response = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=trade.to_json(),
        MessageAttributes={"trade_id": {"DataType": "String", "StringValue": trade.trade_id}},
    )
    message_id: str = response["MessageId"]
    return message_id


class TableNotActiveError(RuntimeError):
    pass


def probe_sessions_table(dynamodb: Any, table: str) -> None:
    """This region's replica of the sessions table exists and is ACTIVE."""
    status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
    if status != "ACTIVE":
        raise TableNotActiveError(f"table {table} is {status}")


def probe_queue(sqs: Any, queue_url: str) -> None:
    sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
