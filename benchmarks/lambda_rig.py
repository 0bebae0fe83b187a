"""What the Lambda benchmarks share: the local PostgreSQL, moto, and the functions' modules.

Not a benchmark itself: imported by processor_throughput.py and soak.py.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
for _path in ("shared", "intake", "processor", "health", "migrate", "shipper", "reconciler"):
    sys.path.insert(0, str(ROOT / "lambda_src" / _path))
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import migrate_logic  # noqa: E402
from aws_lambda_powertools.utilities.typing import LambdaContext  # noqa: E402
from moto import mock_aws  # noqa: E402
from tests.support.journal import create_journal_table  # noqa: E402
from tests.support.postgres import PostgresServer, running_postgres  # noqa: E402

REGION = "us-east-1"
DB_NAME = "trading"
APP_USER = "trading_app"
APP_PASSWORD = "bench-app-password"
AUDIT_USER = "trading_audit"
AUDIT_PASSWORD = "bench-audit-password"
AUDIT_BUCKET = "audit-bench"
JOURNAL_TABLE = "trade-journal-bench"
BATCH = 100  # the event source mapping's BatchSize


@dataclass
class FakeContext:
    function_name: str = "bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:bench"
    aws_request_id: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def context() -> LambdaContext:
    return cast(LambdaContext, FakeContext(aws_request_id=str(uuid.uuid4())))


@contextmanager
def environment(*, durable: bool = True) -> Iterator[PostgresServer]:
    """A durable local PostgreSQL with the migrated schema, moto for AWS, the processor's
    environment variables set: what the processor sees in a region, minus the network."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    with running_postgres(durable=durable) as server, mock_aws():
        server.create_database(DB_NAME)
        conn = server.connect(DB_NAME)
        migrate_logic.apply(conn, migrate_logic.discover())
        conn.run(f"ALTER ROLE {APP_USER} PASSWORD '{APP_PASSWORD}'")
        conn.run(f"ALTER ROLE {AUDIT_USER} PASSWORD '{AUDIT_PASSWORD}'")
        conn.close()
        secret = boto3.client("secretsmanager").create_secret(
            Name="rds!cluster-bench",
            SecretString=json.dumps({"username": APP_USER, "password": APP_PASSWORD}),
        )
        boto3.client("s3").create_bucket(Bucket=AUDIT_BUCKET)
        # Intake journals every order; the processor sends back what it cannot store where
        # it is not the writer (never here: this database is writable).
        create_journal_table(boto3.client("dynamodb"), JOURNAL_TABLE)
        queue_url = boto3.client("sqs").create_queue(QueueName="trades-rig")["QueueUrl"]
        os.environ.update(
            {
                "DB_HOST": server.host,
                "DB_PORT": str(server.port),
                "DB_NAME": DB_NAME,
                "DB_SECRET_ARN": secret["ARN"],
                "DB_TLS": "disable",
                "AUDIT_BUCKET": AUDIT_BUCKET,
                "JOURNAL_TABLE_NAME": JOURNAL_TABLE,
                "TRADE_QUEUE_URL": queue_url,
            }
        )
        yield server


def shipper() -> Callable[[], dict[str, Any]]:
    """The audit shipper's handler, set up as in a region (its own login, the audit bucket):
    call the result to run it once, as its every-minute schedule does. Its settings are read
    now, under its own environment, so the processor's stay as they are."""
    import shipper_handler

    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!audit-bench",
        SecretString=json.dumps({"username": AUDIT_USER, "password": AUDIT_PASSWORD}),
    )
    saved = dict(os.environ)
    os.environ.update({"DB_SECRET_ARN": secret["ARN"], "ENVIRONMENT": "bench"})
    try:
        shipper_handler.runtime()
    finally:
        os.environ.clear()
        os.environ.update(saved)

    # Its logger writes to the stdout it found at import; only warnings matter here.
    shipper_handler.logger.setLevel("WARNING")

    def run() -> dict[str, Any]:
        with quiet():
            result: dict[str, Any] = shipper_handler.handler({}, context())
        return result

    return run


def trade(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "trade_id": str(uuid.uuid4()),
        "account_id": "acct-bench",
        "symbol": "MSFT",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": "25.5",
        "limit_price": "412.12345678",
        "client_timestamp": "2024-05-01T12:00:00.123456Z",
    }
    body.update(overrides)
    return body


def quiet() -> Any:
    """Lambda ships stdout (logs, EMF metrics) to CloudWatch; here it goes nowhere."""
    return redirect_stdout(open(os.devnull, "w"))


def receive_batch(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Up to one batch, gathered by several ReceiveMessage calls as the mapping does."""
    records: list[dict[str, Any]] = []
    while len(records) < BATCH:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,  # in flight until this batch is answered
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            break
        records += messages
    return records


def deliver_batch(
    handler_module: Any, sqs: Any, queue_url: str, messages: list[dict[str, Any]]
) -> int:
    """What Lambda's event source mapping does with one batch: the processor handler's
    answer decides; successes are deleted, reported records become visible again at once.
    Returns how many were reported."""
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"]
                },
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }
    failed = {
        f["itemIdentifier"] for f in handler_module.handler(event, context())["batchItemFailures"]
    }
    done = [m for m in messages if m["MessageId"] not in failed]
    for i in range(0, len(done), 10):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]}
                for j, m in enumerate(done[i : i + 10])
            ],
        )
    # What the mapping does with reported records: they become visible again (here at once).
    for m in messages:
        if m["MessageId"] in failed:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
    return len(failed)
