#!/usr/bin/env python3
"""Failover soak: accepted trades survive a regional failure mid-stream, none lost, none
stored twice, none left stranded.

Two regions, each with its own intake, journal replica, queue (with a DLQ after 5
receives), processor and reconciler, run by their real handlers' code; SQS and DynamoDB are
moto's, per region. The Aurora global cluster is one real PostgreSQL database that each
region reaches under its own login: the writer region's login is read-write, the other's
read-only (`default_transaction_read_only`), which is what a secondary member answers
(SQLSTATE 25006). A failover swaps the two and ends the old writer's sessions.
Global-table replication of the journal is played by the soak (moto replicates nothing):
every journal key a region's functions write is noted as they call DynamoDB, and after
each chunk of orders the item's current state is copied to the other replica.

The run:
1. the primary accepts orders (10 % exact retries, 1 % trade ids reused with different
   content, 1 % malformed) and its processor stores them, falling behind at the end;
2. the primary fails: its processor stops with messages still queued; the journal's last
   changes replicate (global tables replicate in about a second; the trades accepted in
   that last second are the RPO window, stated in the DR budget, and are not modelled);
   the global cluster fails over to the secondary;
3. clients move to the secondary: the rest of the orders (and retries of orders accepted
   by the primary) go there; its processor stores them and its reconciler replays the
   trades stranded in the primary's queue;
4. the primary comes back as a read-only member: its processor drains its stranded queue
   (already stored: acknowledged; nothing goes to the DLQ) and its reconciler only measures.

Checked at the end: every order answered 202 is stored (lost), no trade is audited as
`stored` twice in the processors' audit objects (duplicated), and no message waits in a
queue or DLQ and no journal entry is pending in either replica (stranded). Also measured:
intake p50/p99 with the journal write against without it (the same handler logic and
clients, alternating, in this run).
Last line: `accepted N; stored N; lost 0; duplicated 0; stranded 0; reconciled R in S s`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
from lambda_rig import DB_NAME, context, deliver_batch, quiet, receive_batch, trade
from moto import mock_aws
from tests.support.journal import create_journal_table
from tests.support.postgres import PostgresServer, running_postgres

SESSION = "sess-failover-0123456789abcdef"
ACCOUNT = "acct-failover"
PRIMARY, SECONDARY = "us-east-1", "us-east-2"
JOURNAL, SESSIONS = "trade-journal-soak", "user-sessions-soak"
MAX_RECEIVE_COUNT = 5
# Shorter than production's 20 s so the soak ends in seconds; the logic is the same.
GRACE_S = 2.0
PASSWORD = "soak-region-password"


@dataclass
class Region:
    name: str
    login: str
    sqs: Any
    dynamodb: Any
    replicator: Any  # a client of its own: what it writes is not noted again
    queue_url: str
    dlq_url: str
    intake: Any = None
    processor: Any = None
    reconciler: Any = None
    written: set[str] = field(default_factory=set)  # journal keys changed since replicated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    _environment()
    with running_postgres(durable=True) as server, mock_aws():
        _schema(server)
        os.environ.update({"SOAK_DB_HOST": server.host, "SOAK_DB_PORT": str(server.port)})
        regions = {name: _region(name) for name in (PRIMARY, SECONDARY)}
        _set_writer(server, regions, PRIMARY)
        result = Soak(server, regions, random.Random(args.seed)).run(args.trades)
        for region in regions.values():
            region.processor.store.connections.discard()
            region.reconciler.connections.discard()
    print(result)


def _environment() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": PRIMARY,
            "AWS_REGION": PRIMARY,
            "POWERTOOLS_METRICS_NAMESPACE": "TradingDR",
        }
    )


def _schema(server: PostgresServer) -> None:
    import migrate_logic

    server.create_database(DB_NAME)
    conn = server.connect(DB_NAME)
    migrate_logic.apply(conn, migrate_logic.discover())
    for name in (PRIMARY, SECONDARY):
        # Each region's login holds exactly trading_app's grants.
        conn.run(f"CREATE ROLE {_login(name)} LOGIN PASSWORD '{PASSWORD}' IN ROLE trading_app")
    conn.close()


def _login(region: str) -> str:
    return "app_" + region.replace("-", "_")


def _set_writer(server: PostgresServer, regions: dict[str, Region], writer: str) -> None:
    """The global cluster's writer is `writer`: the other region's sessions become
    read-only, and the sessions opened under the old setting end (as a demotion does)."""
    conn = server.connect(DB_NAME)
    for region in regions.values():
        mode = "off" if region.name == writer else "on"
        conn.run(f"ALTER ROLE {region.login} SET default_transaction_read_only = {mode}")
        conn.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :u",
            u=region.login,
        )
    conn.close()


def _region(name: str) -> Region:
    sqs = boto3.client("sqs", region_name=name)
    dynamodb = boto3.client("dynamodb", region_name=name)
    dlq_url = sqs.create_queue(QueueName="trades-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    queue_url = sqs.create_queue(
        QueueName="trades",
        Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    create_journal_table(dynamodb, JOURNAL)
    dynamodb.create_table(
        TableName=SESSIONS,
        AttributeDefinitions=[{"AttributeName": "session_token", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "session_token", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName=SESSIONS,
        Item={
            "session_token": {"S": SESSION},
            "expires_at": {"N": str(int(time.time()) + 86_400)},
            "account_id": {"S": ACCOUNT},
        },
    )
    boto3.client("s3", region_name=name).create_bucket(
        Bucket=f"audit-{name}",
        **(
            {}
            if name == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": name}}
        ),
    )
    region = Region(
        name, _login(name), sqs, dynamodb, boto3.client("dynamodb", region_name=name),
        queue_url, dlq_url,
    )  # fmt: skip

    def note(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == JOURNAL:
            key = params.get("Item") or params.get("Key") or {}
            if "trade_id" in key:
                region.written.add(key["trade_id"]["S"])

    for operation in ("PutItem", "UpdateItem", "DeleteItem"):
        dynamodb.meta.events.register(f"provide-client-params.dynamodb.{operation}", note)
    _runtimes(region)
    return region


def _runtimes(region: Region) -> None:
    """Each handler's warm runtime for this region, built as its runtime() does."""
    import processor_handler
    import reconciler_handler
    from processor_logic import TradeStore
    from trading_shared.db import ConnectionCache, Connector, Credentials
    from trading_shared.settings import (
        DatabaseSettings,
        DbAuth,
        IntakeSettings,
        ProcessorSettings,
        ReconcilerSettings,
        TlsMode,
    )

    server_host, server_port = os.environ["SOAK_DB_HOST"], int(os.environ["SOAK_DB_PORT"])
    db = DatabaseSettings(
        host=server_host, port=server_port, name=DB_NAME, auth=DbAuth.SECRET, user=None,
        secret_arn="unused", tls=TlsMode.DISABLE, ca_bundle=None, timeout_s=10,
    )  # fmt: skip

    def connections() -> ConnectionCache:
        return ConnectionCache(Connector(db, lambda: Credentials(region.login, PASSWORD)).connect)

    intake = IntakeSettings(
        region=region.name, queue_url=region.queue_url, sessions_table=SESSIONS,
        journal_table=JOURNAL, journal_ttl_days=7, max_body_bytes=16 * 1024,
    )  # fmt: skip
    region.intake = (intake, region.dynamodb, region.sqs)
    processor = ProcessorSettings(
        region=region.name, queue_url=region.queue_url, defer_delay_s=0,
        audit_bucket=f"audit-{region.name}", audit_prefix="trades/", database=db,
    )  # fmt: skip
    region.processor = processor_handler.Runtime(
        processor, boto3.client("s3", region_name=region.name), region.sqs,
        TradeStore(connections(), region.name),
    )  # fmt: skip
    reconciler = ReconcilerSettings(
        region=region.name, environment="soak", journal_table=JOURNAL,
        queue_url=region.queue_url, grace_s=GRACE_S, pass_interval_s=1, lookback_minutes=60,
        database=db,
    )  # fmt: skip
    region.reconciler = reconciler_handler.Runtime(
        reconciler, region.dynamodb, region.sqs, connections(), ThreadPoolExecutor(8)
    )


class Soak:
    def __init__(self, server: PostgresServer, regions: dict[str, Region], rng: random.Random):
        self.server, self.regions, self.rng = server, regions, rng
        self.accepted: set[str] = set()
        self.posted: dict[str, dict[str, Any]] = {}  # trade_id -> first order sent
        self.answers: Counter[int] = Counter()
        self.replayed = 0

    def run(self, trades: int) -> str:
        import intake_handler
        import processor_handler
        import reconciler_handler

        for module in (intake_handler, processor_handler, reconciler_handler):
            module.logger.setLevel("WARNING")
        primary, secondary = self.regions[PRIMARY], self.regions[SECONDARY]
        latency = self._intake_latency(primary, 500)

        with quiet():
            # 1. The primary accepts and stores; its processor falls behind at the end.
            half = trades // 2
            for offset in range(0, half, 500):
                self._post(primary, min(500, half - offset))
                self._replicate()
                if offset + 500 < half - 1_000:  # the last 1,000 stay in its queue
                    self._drain(primary)
            stranded = self._depth(primary)
            by_primary = set(self.accepted)
            # 2. The primary fails; its journal's last changes replicate; failover.
            self._replicate()
            _set_writer(self.server, self.regions, SECONDARY)
            failed_over = time.perf_counter()
            # 3. The secondary accepts the rest (and retries of what the primary accepted);
            # its reconciler replays what the primary's queue stranded.
            reconciled_at = None
            for offset in range(half, trades, 500):
                self._post(secondary, min(500, trades - offset))
                self._replicate()
                self._drain(secondary)
                self._reconcile(secondary)
                reconciled_at = reconciled_at or self._all_stored(by_primary)
            while reconciled_at is None or self._depth(secondary):
                self._drain(secondary)
                self._reconcile(secondary)
                reconciled_at = reconciled_at or self._all_stored(by_primary)
            reconcile_s = reconciled_at - failed_over
            # 4. The primary returns as a read-only member and drains what it stranded.
            self._replicate()
            self._drain(self.regions[PRIMARY])
            self._reconcile(self.regions[PRIMARY])
            self._replicate()
            self._drain(secondary)
            self._reconcile(secondary)
            self._replicate()
        return self._outcome(stranded, reconcile_s, latency)

    # -- intake --------------------------------------------------------------------------

    def _invoke_intake(self, region: Region, order: dict[str, Any] | str) -> int:
        import intake_handler

        intake_handler._runtime = region.intake
        body = order if isinstance(order, str) else json.dumps(order)
        event = {"httpMethod": "POST", "path": "/trades", "body": body}
        status: int = intake_handler.handler(event, context())["statusCode"]
        self.answers[status] += 1
        return status

    def _post(self, region: Region, count: int) -> None:
        """`count` new orders, plus 10 % exact retries (some of orders the other region
        accepted), 1 % reused ids with different content and 1 % malformed bodies."""
        for _ in range(count):
            order = trade(account_id=ACCOUNT, session_token=SESSION)
            if self._invoke_intake(region, order) == 202:
                self.accepted.add(order["trade_id"])
                self.posted[order["trade_id"]] = order
        known = sorted(self.posted)
        for trade_id in self.rng.sample(known, count // 10):
            assert self._invoke_intake(region, self.posted[trade_id]) == 202, "retry refused"
        for trade_id in self.rng.sample(known, count // 100):
            reused = {**self.posted[trade_id], "quantity": "77"}
            assert self._invoke_intake(region, reused) == 409, "reused id accepted"
        for i in range(count // 100):
            assert self._invoke_intake(region, ['{"trade_id": "', "{}", "[]"][i % 3]) == 400

    def _intake_latency(self, region: Region, rounds: int) -> dict[str, float]:
        """handle_order with and without the journal write, alternating, same clients."""
        from intake_logic import handle_order
        from trading_shared.aws import get_session, send_trade
        from trading_shared.journal import JournalResult, Recorded, record_trade

        _settings, dynamodb, sqs = region.intake
        samples: dict[str, list[float]] = {"journal": [], "baseline": []}
        for i in range(2 * rounds):
            mode = "journal" if i % 2 else "baseline"
            now = time.time()
            journal = (
                partial(record_trade, dynamodb, JOURNAL, now=now, region=region.name, ttl_days=7)
                if mode == "journal"
                else (lambda _t: JournalResult(Recorded.NEW))
            )
            body = json.dumps(trade(account_id=ACCOUNT, session_token=SESSION)).encode()
            start = time.perf_counter()
            result = handle_order(
                body, max_body_bytes=16 * 1024,
                lookup_session=partial(get_session, dynamodb, SESSIONS), journal=journal,
                enqueue=partial(send_trade, sqs, region.queue_url), now=now,
            )  # fmt: skip
            samples[mode].append(time.perf_counter() - start)
            assert result.status == 202
        # These trades are not part of the soak: drop their messages and journal entries.
        sqs.purge_queue(QueueUrl=region.queue_url)
        for item in dynamodb.scan(TableName=JOURNAL)["Items"]:
            dynamodb.delete_item(TableName=JOURNAL, Key={"trade_id": item["trade_id"]})
        return {
            f"{mode}_{q}": _quantile(values, p) * 1000
            for mode, values in samples.items()
            for q, p in (("p50", 0.5), ("p99", 0.99))
        }

    # -- processing ----------------------------------------------------------------------

    def _drain(self, region: Region) -> None:
        """The event source mapping: batches of up to 100, failures left to come back."""
        import processor_handler

        processor_handler._runtime = region.processor
        while records := receive_batch(region.sqs, region.queue_url):
            deliver_batch(processor_handler, region.sqs, region.queue_url, records)

    def _reconcile(self, region: Region) -> None:
        """One reconciler pass (a pass every GRACE_S / 4 s)."""
        import reconciler_handler

        time.sleep(GRACE_S / 4)
        self.replayed += reconciler_handler.one_pass(region.reconciler).replayed

    def _all_stored(self, trade_ids: set[str]) -> float | None:
        """The time at which every one of `trade_ids` is in Aurora, else None."""
        conn = self.server.connect(DB_NAME)
        [[count]] = conn.run(
            "SELECT count(*) FROM trades WHERE trade_id::text = ANY(:ids)", ids=sorted(trade_ids)
        )
        conn.close()
        return time.perf_counter() if count == len(trade_ids) else None

    def _depth(self, region: Region) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]  # fmt: skip
        attributes = region.sqs.get_queue_attributes(
            QueueUrl=region.queue_url, AttributeNames=names
        )["Attributes"]
        return sum(int(attributes[n]) for n in names)

    # -- global-table replication --------------------------------------------------------

    def _replicate(self) -> None:
        """Copy each journal item a region changed to the other replica, as it is now
        (what global tables do, item by item)."""
        for source, target in ((PRIMARY, SECONDARY), (SECONDARY, PRIMARY)):
            src, dst = self.regions[source], self.regions[target]
            for trade_id in sorted(src.written):
                key = {"trade_id": {"S": trade_id}}
                item = src.replicator.get_item(TableName=JOURNAL, Key=key).get("Item")
                if item is None:
                    dst.replicator.delete_item(TableName=JOURNAL, Key=key)
                else:
                    dst.replicator.put_item(TableName=JOURNAL, Item=item)
            src.written.clear()

    # -- outcome -------------------------------------------------------------------------

    def _outcome(
        self, stranded_at_failure: int, reconcile_s: float, latency: dict[str, float]
    ) -> str:
        conn = self.server.connect(DB_NAME)
        stored = {str(r[0]) for r in conn.run("SELECT trade_id FROM trades")}
        audit_bodies = [bytes(r[0]) for r in conn.run("SELECT body FROM audit_outbox")]
        conn.close()
        for name in self.regions:
            s3 = boto3.client("s3", region_name=name)
            for obj in s3.list_objects_v2(Bucket=f"audit-{name}").get("Contents", []):
                audit_bodies.append(
                    s3.get_object(Bucket=f"audit-{name}", Key=obj["Key"])["Body"].read()
                )
        audited: Counter[str] = Counter()
        for body in audit_bodies:
            for line in body.decode().splitlines():
                record = json.loads(line)
                if record["outcome"] == "stored":
                    audited[record["trade_id"]] += 1
        lost = len(self.accepted - stored)
        duplicated = sum(n - 1 for n in audited.values() if n > 1)
        waiting = sum(
            self._depth(r) + int(r.sqs.get_queue_attributes(
                QueueUrl=r.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"])
            for r in self.regions.values()
        )  # fmt: skip
        pending = sum(
            sum(1 for item in r.dynamodb.scan(TableName=JOURNAL)["Items"] if "pending" in item)
            for r in self.regions.values()
        )
        print(
            f"answers {dict(sorted(self.answers.items()))}; {stranded_at_failure} messages "
            f"stranded in the primary's queue at the failure; grace {GRACE_S:g} s (prod 20 s); "
            f"audit objects {len(audit_bodies)}; journal entries still pending {pending}"
        )
        print(
            "intake latency (handle_order, moto in-process): "
            f"p50 {latency['baseline_p50']:.2f} ms -> {latency['journal_p50']:.2f} ms with the "
            f"journal write (+{latency['journal_p50'] - latency['baseline_p50']:.2f} ms); "
            f"p99 {latency['baseline_p99']:.2f} ms -> {latency['journal_p99']:.2f} ms "
            f"(+{latency['journal_p99'] - latency['baseline_p99']:.2f} ms)"
        )
        return (
            f"accepted {len(self.accepted)}; stored {len(stored)}; lost {lost}; "
            f"duplicated {duplicated}; stranded {waiting + pending}; "
            f"reconciled {self.replayed} in {reconcile_s:.1f} s"
        )


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if q < 1 else max(values)


if __name__ == "__main__":
    main()
