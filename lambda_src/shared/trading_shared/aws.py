"""The few AWS calls the functions make, each a plain function over a boto3 client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from trading_shared.trade import ACCOUNT_RE, Trade

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


# Past any real session (year 2286): a larger value is a corrupt item, not a long session.
MAX_EXPIRY = 10**10
EXPIRY_RE = re.compile(r"[0-9]{1,11}(\.[0-9]{1,38})?")


@dataclass(frozen=True)
class Session:
    expires_at: int
    account_id: str  # the only account this session may trade for

    def valid_at(self, now: float) -> bool:
        return self.expires_at > now


class InvalidSessionError(ValueError):
    """A session item that cannot authorise anything: a missing or malformed attribute."""


def parse_session(item: Mapping[str, Any]) -> Session:
    """Fail closed: every attribute must be present and well formed, or nothing is allowed.
    (A session without its account once let its holder trade for any account.)"""
    expiry = item.get(SESSION_EXPIRY)
    if not isinstance(expiry, dict) or not isinstance(expiry.get("N"), str):
        raise InvalidSessionError(f"{SESSION_EXPIRY} is missing or not a number")
    text = expiry["N"]
    if not EXPIRY_RE.fullmatch(text) or int(text.split(".")[0]) > MAX_EXPIRY:
        raise InvalidSessionError(f"{SESSION_EXPIRY} must be epoch seconds, got {text[:32]!r}")
    account = item.get(SESSION_ACCOUNT)
    if not isinstance(account, dict) or not isinstance(account.get("S"), str):
        raise InvalidSessionError(f"{SESSION_ACCOUNT} is missing or not a string")
    if not ACCOUNT_RE.fullmatch(account["S"]):
        raise InvalidSessionError(f"{SESSION_ACCOUNT} is not an account id")
    return Session(expires_at=int(text.split(".")[0]), account_id=account["S"])


def get_session(dynamodb: Any, table: str, token: str) -> Session | None:
    """GetItem (strongly consistent in this region's replica); None when there is no such
    session, InvalidSessionError when its item is malformed."""
    item = dynamodb.get_item(
        TableName=table,
        Key={SESSION_KEY: {"S": token}},
        ConsistentRead=True,
        ProjectionExpression=f"{SESSION_EXPIRY}, {SESSION_ACCOUNT}",
    ).get("Item")
    return None if item is None else parse_session(item)


def _trade_attributes(trade_id: str) -> dict[str, dict[str, str]]:
    return {"trade_id": {"DataType": "String", "StringValue": trade_id}}


def send_trade(sqs: Any, queue_url: str, trade: Trade) -> str:
    """SendMessage; returns the SQS message id. A standard queue cannot deduplicate, so
    trade_id (in the body and as an attribute) is the processor's idempotency key."""
    response = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=trade.to_json(),
        MessageAttributes=_trade_attributes(trade.trade_id),
    )
    message_id: str = response["MessageId"]
    return message_id


SQS_BATCH = 10  # SendMessageBatch takes at most 10 entries


def send_trades(
    sqs: Any, queue_url: str, messages: list[tuple[str, str]], *, delay_s: int = 0
) -> dict[str, str]:
    """SendMessageBatch of (trade_id, canonical body) pairs, ten at a time; returns the
    trade ids SQS did not take, with why (the caller keeps them for another attempt)."""
    failed: dict[str, str] = {}
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        try:
            response = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": body, "DelaySeconds": delay_s,
                     "MessageAttributes": _trade_attributes(trade_id)}
                    for i, (trade_id, body) in enumerate(chunk)
                ],
            )  # fmt: skip
        except Exception as exc:  # this chunk failed as a whole; the others may not
            failed.update({trade_id: f"{type(exc).__name__}: {exc}" for trade_id, _ in chunk})
            continue
        for entry in response.get("Failed", []):
            failed[chunk[int(entry["Id"])][0]] = f"{entry.get('Code')}: {entry.get('Message')}"
    return failed


class TableNotActiveError(RuntimeError):
    pass


def probe_table(dynamodb: Any, table: str) -> None:
    """This region's replica of a global table (sessions, journal) exists and is ACTIVE."""
    status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
    if status != "ACTIVE":
        raise TableNotActiveError(f"table {table} is {status}")


def probe_queue(sqs: Any, queue_url: str) -> None:
    sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
