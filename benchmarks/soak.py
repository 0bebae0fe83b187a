#!/usr/bin/env python3
"""Soak: 10,000 trades through intake, an SQS queue with a DLQ, and the processor.

Intake (the real handler, sessions in DynamoDB) enqueues every trade; SQS is moto's, with
a redrive policy to a DLQ. The queue is drained the way Lambda's event source mapping does
it (batches of up to 100, failed records left for redelivery, successes deleted), while
10% of trades are delivered twice, 1% of messages are malformed, and the database restarts
twice mid-run (once cleanly, once as a crash). The processor's answers decide everything:
a record it reports fails comes back, and after maxReceiveCount receipts goes to the DLQ.

The audit shipper (its real handler) runs after every chunk, as its schedule would, and
once at the end; the audit objects are read from the bucket, so they are what it shipped.

Checked at the end, from the database and the audit objects:
- stored: trades in the table; lost: accepted trades not stored;
- duplicated: trades audited as `stored` more than once (each copy would be a double book);
- dlq: messages in the DLQ, expected to be exactly the malformed ones.
Last line: `trades N; stored N; lost 0; duplicated 0; dlq K (expected K)`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from typing import Any

import boto3
from lambda_rig import (
    AUDIT_BUCKET,
    DB_NAME,
    REGION,
    context,
    deliver_batch,
    environment,
    quiet,
    receive_batch,
    shipper,
    trade,
)

SESSION = "sess-soak-0123456789abcdef"
ACCOUNT = "acct-soak"
MAX_RECEIVE_COUNT = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()

    with environment(durable=True) as server:
        import intake_handler
        import processor_handler

        # Its logger writes to the stdout it found at import: one line per accepted order.
        intake_handler.logger.setLevel("WARNING")

        ship = shipper()
        shipped = 0
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="trades-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        queue_url = sqs.create_queue(
            QueueName="trades",
            # 0 s: a record reported failed is visible again at once (no waiting in a soak).
            Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        dynamodb.create_table(
            TableName="user-sessions-soak",
            AttributeDefinitions=[{"AttributeName": "session_token", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "session_token", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(
            TableName="user-sessions-soak",
            Item={
                "session_token": {"S": SESSION},
                "expires_at": {"N": str(int(time.time()) + 86_400)},
                "account_id": {"S": ACCOUNT},
            },
        )
        os.environ.update(
            {"TRADE_QUEUE_URL": queue_url, "SESSIONS_TABLE_NAME": "user-sessions-soak"}
        )

        # Intake and processor run interleaved, a chunk at a time, as they do live (and
        # moto's SendMessage slows down linearly with the queue's length).
        accepted: list[str] = []
        duplicates = malformed = handled = invocations = reported = 0
        shapes = ['{"trade_id": "', "[]", '{"trade_id": "x", "side": "HOLD"}', "{}", "null"]
        restarts = {args.trades // 3: "fast", 2 * args.trades // 3: "immediate"}
        chunk = 500
        with quiet():
            for offset in range(0, args.trades, chunk):
                # 1. Intake: every trade posted once through the handler.
                posted = []
                for _ in range(min(chunk, args.trades - offset)):
                    order = trade(account_id=ACCOUNT, session_token=SESSION)
                    event = {"httpMethod": "POST", "path": "/trades", "body": json.dumps(order)}
                    response = intake_handler.handler(event, context())
                    assert response["statusCode"] == 202, response
                    posted.append(order["trade_id"])
                accepted += posted

                # 2. Faults in the queue: 10% delivered twice, 1% malformed messages.
                extra = [
                    json.dumps(_canonical_trade(tid, ACCOUNT))
                    for tid in rng.sample(posted, len(posted) // 10)
                ]
                bad = [shapes[(malformed + i) % len(shapes)] for i in range(len(posted) // 100)]
                duplicates, malformed = duplicates + len(extra), malformed + len(bad)
                extra += bad
                rng.shuffle(extra)
                for i in range(0, len(extra), 10):
                    sqs.send_message_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(j), "MessageBody": b}
                            for j, b in enumerate(extra[i : i + 10])
                        ],
                    )

                # 3. Drain like the event source mapping; the database restarts twice.
                while records := receive_batch(sqs, queue_url):
                    for threshold, mode in list(restarts.items()):
                        if len(accepted) >= threshold:
                            del restarts[threshold]
                            server.stop(mode)
                            # The batch meeting the dead database is reported, comes back.
                            reported += deliver_batch(processor_handler, sqs, queue_url, records)
                            invocations += 1
                            server.start()
                    handled += len(records)
                    reported += deliver_batch(processor_handler, sqs, queue_url, records)
                    invocations += 1
                shipped += ship()["shipped"]
        shipped += ship()["shipped"]
        drained = time.perf_counter()

        # 4. Outcome, from the database and the audit trail.
        conn = server.connect(DB_NAME)
        stored = {str(r[0]) for r in conn.run("SELECT trade_id FROM trades")}
        [[waiting]] = conn.run("SELECT count(*) FROM audit_outbox")
        conn.close()
        audited: Counter[str] = Counter()
        objects = 0
        # S3 lists at most 1,000 keys a call: every page, or a busy run's audit is cut short.
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=AUDIT_BUCKET):
            for obj in page.get("Contents", []):
                objects += 1
                body = s3.get_object(Bucket=AUDIT_BUCKET, Key=obj["Key"])["Body"].read()
                for line in body.decode().splitlines():
                    record = json.loads(line)
                    if record["outcome"] == "stored":
                        audited[record["trade_id"]] += 1
        dlq = int(
            sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        if processor_handler._runtime is not None:
            processor_handler._runtime.store.connections.discard()
        import shipper_handler

        if shipper_handler._runtime is not None:
            shipper_handler._runtime.connections.discard()

    lost = len(set(accepted) - stored)
    duplicated = sum(n - 1 for n in audited.values() if n > 1)
    unaudited, phantom = sorted(stored - set(audited)), sorted(set(audited) - stored)
    if unaudited or phantom:
        print(
            f"audit trail and table disagree: {len(unaudited)} stored but never audited "
            f"stored (e.g. {unaudited[:3]}), {len(phantom)} audited stored but not in the "
            f"table (e.g. {phantom[:3]}); {objects} audit objects read"
        )
    assert (unaudited, phantom) == ([], []), "audit trail and table disagree"
    assert waiting == 0, f"{waiting} audit objects left in the outbox"
    print(
        f"{drained - started:.0f} s; {invocations} processor invocations, {reported} records "
        f"reported failed; {duplicates} duplicate deliveries, {malformed} malformed, "
        f"{2 - len(restarts)} database restarts; {shipped} audit objects shipped from the "
        f"outbox, {objects} in the bucket"
    )
    print(
        f"trades {len(accepted)}; stored {len(stored)}; lost {lost}; duplicated {duplicated}; "
        f"dlq {dlq} (expected {malformed})"
    )


def _canonical_trade(trade_id: str, account: str) -> dict[str, Any]:
    """The same trade the intake enqueued (trade() is deterministic apart from the id)."""
    body = trade(trade_id=trade_id, account_id=account)
    body["quantity"], body["limit_price"] = "25.5", "412.12345678"
    return body


if __name__ == "__main__":
    main()
