"""The journal reconciler against the real PostgreSQL server, with DynamoDB (the journal,
created from its template definition) and SQS from moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pg8000.native
import pytest
import reconciler_handler
import reconciler_logic
from trading_shared.journal import SHARDS, minute_of, pending_key, record_trade
from trading_shared.trade import trade_from_message

from tests.conftest import Database
from tests.lambda_src.helpers import body_of, context, message
from tests.support.journal import create_journal_table

JOURNAL = "trade-journal-test"
GRACE_S = 20.0


@dataclass
class Rig:
    db: Database
    dynamodb: Any
    sqs: Any
    queue_url: str
    operations: list[str]

    def accept(self, age_s: float) -> dict[str, Any]:
        """A trade journaled by intake `age_s` seconds ago."""
        trade = message()
        record_trade(self.dynamodb, JOURNAL, trade_from_message(body_of(trade)),
                     now=time.time() - age_s, region="us-east-1", ttl_days=7)  # fmt: skip
        return trade

    def store(self, trade: dict[str, Any]) -> None:
        """The processor stored it (as the app user, with the app user's grants)."""
        conn = pg8000.native.Connection(
            user=self.db.app_user, password=self.db.app_password, host=self.db.server.host,
            port=self.db.server.port, database=self.db.name,
        )  # fmt: skip
        try:
            conn.run(
                "INSERT INTO trades (trade_id, account_id, symbol, side, order_type, quantity, "
                "limit_price, client_timestamp, processed_region) VALUES (:t, :a, :s, :side, "
                ":o, :q, :p, :c, 'us-east-1')",
                t=trade["trade_id"], a=trade["account_id"], s=trade["symbol"],
                side=trade["side"], o=trade["order_type"], q=trade["quantity"],
                p=trade["limit_price"], c=trade["client_timestamp"],
            )  # fmt: skip
        finally:
            conn.close()

    def pending(self, trade: dict[str, Any]) -> bool:
        item = self.dynamodb.get_item(
            TableName=JOURNAL, Key={"trade_id": {"S": trade["trade_id"]}}, ConsistentRead=True
        )["Item"]
        return "pending" in item

    def queued(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return sorted(json.loads(m["Body"])["trade_id"] for m in messages.get("Messages", []))

    def run(self) -> dict[str, Any]:
        """One invocation of the handler (one pass: the interval is the schedule's 60 s)."""
        result: dict[str, Any] = reconciler_handler.handler({}, context())
        [report] = result["passes"]
        return dict(report)


@pytest.fixture
def rig(aws: None, database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    create_journal_table(dynamodb, JOURNAL)
    queue_url = sqs.create_queue(QueueName="trades-test")["QueueUrl"]
    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!cluster-test",
        SecretString=json.dumps({"username": database.app_user, "password": database.app_password}),
    )
    for name, value in {
        "ENVIRONMENT": "test", "JOURNAL_TABLE_NAME": JOURNAL, "TRADE_QUEUE_URL": queue_url,
        "GRACE_SECONDS": str(GRACE_S), "PASS_INTERVAL_SECONDS": "60", "LOOKBACK_MINUTES": "60",
        "DB_HOST": database.server.host, "DB_PORT": str(database.server.port),
        "DB_NAME": database.name, "DB_SECRET_ARN": secret["ARN"], "DB_TLS": "disable",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(reconciler_handler, "_runtime", None)
    rig = Rig(database, dynamodb, sqs, queue_url, [])
    dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: rig.operations.append(model.name)
    )
    # The handler's own client is built on its first run: record its calls too.
    reconciler_handler.runtime().dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: rig.operations.append(model.name)
    )
    yield rig
    if reconciler_handler._runtime is not None:
        reconciler_handler._runtime.connections.discard()


MINUTE = 60_000
NOW = 1_796_304_000_000 + 30_000  # 30 s into a minute


@pytest.mark.parametrize(
    ("now_ms", "grace_s", "lookback", "first", "last"),
    [
        (NOW, 20, 60, NOW - 60 * MINUTE, NOW),  # the cutoff (10 s in) is in this minute
        (NOW, 45, 60, NOW - 60 * MINUTE, NOW - MINUTE),  # the cutoff is in the minute before
        (NOW, 20, 5, NOW - 5 * MINUTE, NOW),
        # now on a minute boundary: the cutoff, 1 s earlier, is in the minute before
        (NOW - 30_000, 1, 1, NOW - 30_000 - MINUTE, NOW - 30_000 - MINUTE),
    ],
)
def test_window_covers_every_shard_from_lookback_to_the_cutoff_minute(
    now_ms: int, grace_s: float, lookback: int, first: int, last: int
) -> None:
    keys, cutoff = reconciler_logic.window(now_ms, grace_s, lookback)
    assert cutoff == now_ms - int(grace_s * 1000)
    minutes = [minute_of(m * MINUTE) for m in range(first // MINUTE, last // MINUTE + 1)]
    assert keys == [pending_key(m, s) for m in minutes for s in range(SHARDS)]


def test_writer_replays_what_aurora_lacks_and_clears_what_it_holds(rig: Rig) -> None:
    # GIVEN three accepted trades: one stored, one stranded (past the grace period, not
    # stored), one still within its grace period
    stored, stranded, young = rig.accept(90), rig.accept(45), rig.accept(5)
    rig.store(stored)
    rig.operations.clear()

    # WHEN the writer region's reconciler passes
    report = rig.run()

    # THEN the stranded trade is queued again and the stored one leaves the pending index;
    # the young one is neither read nor touched
    assert rig.queued() == [stranded["trade_id"]]
    assert not rig.pending(stored)
    assert rig.pending(stranded)
    assert rig.pending(young)
    assert report["writer"] is True
    assert (report["read"], report["cleared"], report["replayed"], report["unreconciled"]) == (
        2, 1, 1, 1,
    )  # fmt: skip
    assert 45 <= report["oldest_age_s"] < 60
    # and the journal was read by Query on the pending index only, never scanned
    reads = [op for op in rig.operations if op not in ("UpdateItem", "GetItem")]
    assert reads
    assert set(reads) == {"Query"}


def test_replayed_trade_stored_leaves_nothing_unreconciled(rig: Rig) -> None:
    # GIVEN a stranded trade replayed by one pass
    stranded = rig.accept(45)
    assert rig.run()["replayed"] == 1

    # WHEN the processor stores it and the next pass runs
    rig.store(stranded)
    report = rig.run()

    # THEN nothing is left: no replay, nothing unreconciled, out of the index
    assert (report["replayed"], report["unreconciled"], report["oldest_age_s"]) == (0, 0, 0)
    assert not rig.pending(stranded)


def test_a_region_that_is_not_the_writer_only_measures(rig: Rig) -> None:
    # GIVEN a stranded and a stored trade, and this region's database a read-only member
    stranded, stored = rig.accept(40), rig.accept(40)
    rig.store(stored)
    rig.db.read_only(True)

    # WHEN its reconciler passes
    report = rig.run()

    # THEN it reports what is unreconciled but changes nothing: no message, no clear
    assert report["writer"] is False
    assert (report["unreconciled"], report["replayed"], report["cleared"]) == (1, 0, 0)
    assert rig.queued() == []
    assert rig.pending(stranded)
    assert rig.pending(stored)


def test_entries_older_than_the_lookback_are_not_read(rig: Rig) -> None:
    # GIVEN an entry accepted 61 minutes ago (the lookback is 60)
    rig.accept(61 * 60 + 30)

    # WHEN the reconciler passes THEN it does not see it
    assert rig.run()["read"] == 0


def test_pass_with_a_broken_queue_fails_the_run_and_keeps_the_entry(rig: Rig) -> None:
    # GIVEN a stranded trade and no queue to replay into
    stranded = rig.accept(40)
    rig.sqs.delete_queue(QueueUrl=rig.queue_url)

    # WHEN the reconciler runs, THEN the run fails (error-rate alarm) and the entry stays
    with pytest.raises(RuntimeError, match="could not be queued"):
        reconciler_handler.handler({}, context())
    assert rig.pending(stranded)


def test_reconcile_pass_with_nothing_pending_touches_nothing() -> None:
    calls = reconciler_logic.Calls(
        query=lambda key, cutoff: [],
        stored=lambda ids: pytest.fail("Aurora asked about nothing"),
        replay=lambda entries: pytest.fail("nothing to replay"),
        clear=lambda trade_id: pytest.fail("nothing to clear"),
    )
    with ThreadPoolExecutor(2) as pool:
        report = reconciler_logic.reconcile_pass(
            calls, now_ms=NOW, grace_s=20, lookback_minutes=5, writer=True, pool=pool
        )
    assert report.as_dict()["read"] == 0
