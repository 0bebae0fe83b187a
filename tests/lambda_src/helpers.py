"""Builders shared by the Lambda tests: valid trades, events from the JSON fixtures, context."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

HERE = Path(__file__).resolve().parent
SESSION_TOKEN = "sess-0123456789abcdef"
ACCOUNT = "acct-42"


def event(function: str, name: str) -> dict[str, Any]:
    """A recorded event shape from tests/lambda_src/<function>/events/<name>.json."""
    data: dict[str, Any] = json.loads((HERE / function / "events" / f"{name}.json").read_text())
    return data


def trade(**overrides: Any) -> dict[str, Any]:
    """A valid LIMIT order as the API receives it (session token included)."""
    body: dict[str, Any] = {
        "trade_id": str(uuid.uuid4()),
        "account_id": ACCOUNT,
        "symbol": "AAPL",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": "10.5",
        "limit_price": "187.12345678",
        "client_timestamp": "2024-05-01T12:00:00.123456Z",
        "session_token": SESSION_TOKEN,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def message(**overrides: Any) -> dict[str, Any]:
    """A valid trade as the queue carries it (no session token)."""
    return trade(**{"session_token": ..., **overrides})


def post_event(body: str | None, *, base64_encoded: bool = False) -> dict[str, Any]:
    data = event("intake", "post_trades")
    data["body"] = body
    data["isBase64Encoded"] = base64_encoded
    return data


def sqs_event(bodies: list[str], receive_count: int = 1) -> dict[str, Any]:
    template = event("processor", "sqs_batch")
    record = template["Records"][0]
    records = []
    for body in bodies:
        r = copy.deepcopy(record)
        r["messageId"] = str(uuid.uuid4())
        r["body"] = body
        r["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(r)
    return {"Records": records}


def body_of(trade_dict: dict[str, Any]) -> str:
    return json.dumps(trade_dict)


@dataclass
class FakeContext:
    """What powertools reads from the real context object."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def context(remaining_ms: int = 60_000) -> LambdaContext:
    return cast(LambdaContext, FakeContext(remaining_ms=remaining_ms))
