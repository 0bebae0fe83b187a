#!/usr/bin/env python3
"""Processor throughput against its ceiling, on a local durable PostgreSQL.

Subject: the processor handler, batches of 100 SQS records (parse and validate each trade,
one multi-row INSERT ... ON CONFLICT per batch committed with the batch's audit object in
the database outbox, logs and metrics).
Ceiling, measured in the same run on the same server and table: the same rows inserted by
the same multi-row INSERT through pg8000 with no handler around it. Rounds alternate
subject and ceiling so load changes hit both alike; medians are reported.
Also measured, after each subject round: the audit shipper (its real handler, every minute
in a region) putting that round's audit objects from the outbox into S3 (moto, in process),
reported as objects/s and the trades/s they cover. It runs off the trade path, but it must
keep up, or the outbox grows.
Last line: `processor N trades/s; ceiling M rows/s; ratio R` (target R >= 0.6).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from typing import Any

from lambda_rig import DB_NAME, context, environment, quiet, shipper, trade


def sqs_events(trades: list[dict[str, Any]], batch: int) -> list[dict[str, Any]]:
    records = [
        {
            "messageId": str(uuid.uuid4()),
            "body": json.dumps(t),
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
        }
        for t in trades
    ]
    return [{"Records": records[i : i + batch]} for i in range(0, len(records), batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="server without fsync: the commit no longer dominates, exposing handler cost",
    )
    args = parser.parse_args()

    with environment(durable=not args.no_fsync) as server:
        import processor_handler
        import processor_logic
        from trading_shared.db import connector
        from trading_shared.settings import processor_settings
        from trading_shared.trade import trade_from_message

        # The same driver, user and socket options as the processor's own connection.
        settings = processor_settings(os.environ)
        direct = connector(settings.database, settings.region).connect()
        admin = server.connect(DB_NAME)

        def reset() -> None:
            admin.run("TRUNCATE trades, audit_outbox")

        ship = shipper()
        subject_rates, ceiling_rates, ship_rates = [], [], []
        for round_no in range(args.rounds):
            trades = [trade() for _ in range(args.trades)]
            events = sqs_events(trades, args.batch)

            reset()
            with quiet():
                start = time.perf_counter()
                for event in events:
                    failed = processor_handler.handler(event, context())["batchItemFailures"]
                    assert not failed, failed
                elapsed = time.perf_counter() - start
            assert admin.run("SELECT count(*) FROM trades") == [[args.trades]]
            subject_rates.append(args.trades / elapsed)

            start = time.perf_counter()
            shipped = 0
            while result := ship()["shipped"]:
                shipped += result
            ship_rates.append(shipped / (time.perf_counter() - start))
            assert shipped == len(events), (shipped, len(events))
            assert admin.run("SELECT count(*) FROM audit_outbox") == [[0]]

            # The ceiling: the processor's own INSERT statement, prepared once per size as
            # the processor does, with rows ready-made (no JSON, no validation, no audit).
            reset()
            store = processor_logic.TradeStore(None, "us-east-1")  # type: ignore[arg-type]
            parsed = [trade_from_message(json.dumps(t)) for t in trades]
            start = time.perf_counter()
            for i in range(0, len(parsed), args.batch):
                store._insert(direct, parsed[i : i + args.batch])
            elapsed = time.perf_counter() - start
            assert admin.run("SELECT count(*) FROM trades") == [[args.trades]]
            ceiling_rates.append(args.trades / elapsed)
            print(
                f"round {round_no + 1}: processor {subject_rates[-1]:.0f} trades/s, "
                f"ceiling {ceiling_rates[-1]:.0f} rows/s, "
                f"shipper {ship_rates[-1]:.0f} audit objects/s"
            )

        direct.close()
        admin.close()
        if processor_handler._runtime is not None:
            processor_handler._runtime.store.connections.discard()
        import shipper_handler

        if shipper_handler._runtime is not None:
            shipper_handler._runtime.connections.discard()

    ship_rate = statistics.median(ship_rates)
    print(
        f"shipper {ship_rate:.0f} audit objects/s, covering "
        f"{ship_rate * args.batch:.0f} trades/s (off the trade path, once a minute)"
    )
    subject = statistics.median(subject_rates)
    ceiling = statistics.median(ceiling_rates)
    ratio = subject / ceiling
    print(f"processor {subject:.0f} trades/s; ceiling {ceiling:.0f} rows/s; ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
