"""The trade processor against a real PostgreSQL server, with S3 and Secrets Manager from moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import pg8000.native
import processor_handler
import processor_logic
import pytest
import shipper_logic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg8000.exceptions import InterfaceError
from trading_shared.audit import AuditObject, put_audit_object
from trading_shared.trade import trade_from_message

from tests.conftest import Database
from tests.lambda_src.helpers import body_of, context, message, sqs_event

BUCKET = "audit-test"


@dataclass
class Processor:
    db: Database
    s3: Any
    queue_url: str

    def read_only(self, on: bool) -> None:
        """The database a read-only member (or the writer again); the processor's kept
        connection is dropped, as a failover ends the old sessions."""
        self.db.read_only(on)
        if processor_handler._runtime is not None:
            processor_handler._runtime.store.connections.discard()

    def queue(self) -> dict[str, str]:
        sqs: Any = boto3.client("sqs")
        attributes: dict[str, str] = dict(
            sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
        )
        return attributes

    def invoke(self, event: dict[str, Any]) -> list[str]:
        """Run the handler; the message ids it reports failed."""
        response = processor_handler.handler(event, context())
        return [f["itemIdentifier"] for f in response["batchItemFailures"]]

    def rows(self) -> dict[str, tuple[Any, ...]]:
        conn = self.db.server.connect(self.db.name)
        try:
            rows = conn.run(
                "SELECT trade_id, account_id, symbol, side, order_type, quantity, limit_price,"
                " client_timestamp, processed_region FROM trades"
            )
        finally:
            conn.close()
        return {str(r[0]): tuple(r[1:]) for r in rows}

    def outbox(self) -> list[str]:
        """Keys of the audit objects committed but not yet shipped."""
        conn = self.db.server.connect(self.db.name)
        try:
            return [r[0] for r in conn.run("SELECT object_key FROM audit_outbox ORDER BY 1")]
        finally:
            conn.close()

    def ship(self) -> shipper_logic.ShipReport:
        """What the shipper function does every minute, as its own database login."""
        conn = pg8000.native.Connection(
            user=self.db.audit_user, password=self.db.audit_password,
            host=self.db.server.host, port=self.db.server.port, database=self.db.name,
        )  # fmt: skip
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                return shipper_logic.ship(
                    conn, lambda audit: put_audit_object(self.s3, BUCKET, audit),
                    batch_size=10, pool=pool, time_left=lambda: True,
                )  # fmt: skip
        finally:
            conn.close()

    def audits(self) -> list[list[dict[str, Any]]]:
        """Each audit object's lines, oldest first, once the shipper has run."""
        assert not self.ship().failed
        keys = sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
        return [[json.loads(line) for line in self._text(key).splitlines()] for key in keys]

    def keys(self) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))

    def versions(self) -> dict[str, int]:
        """How many versions each key of the bucket has."""
        counts: dict[str, int] = {}
        for v in self.s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
            counts[v["Key"]] = counts.get(v["Key"], 0) + 1
        return counts

    def _text(self, key: str) -> str:
        text: str = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        return text

    @property
    def store(self) -> processor_logic.TradeStore:
        assert processor_handler._runtime is not None
        return processor_handler._runtime.store


@pytest.fixture
def processor(
    aws: None, database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Processor]:
    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!cluster-test",
        SecretString=json.dumps({"username": database.app_user, "password": database.app_password}),
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    # Versioned, as the audit bucket is (Object Lock): an overwrite shows as a second version.
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    queue_url = boto3.client("sqs").create_queue(QueueName="trades-test")["QueueUrl"]
    for name, value in {
        "TRADE_QUEUE_URL": queue_url,
        "DB_HOST": database.server.host,
        "DB_PORT": str(database.server.port),
        "DB_NAME": database.name,
        "DB_SECRET_ARN": secret["ARN"],
        "DB_TLS": "disable",
        "AUDIT_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(processor_handler, "_runtime", None)
    yield Processor(database, s3, queue_url)
    if processor_handler._runtime is not None:
        processor_handler._runtime.store.connections.discard()


def ids(event: dict[str, Any], *indexes: int) -> list[str]:
    return [event["Records"][i]["messageId"] for i in indexes]


def test_valid_batch_is_stored_exactly_with_nothing_reported(processor: Processor) -> None:
    # GIVEN a batch of a LIMIT and a MARKET trade with amounts that floats would round
    limit = message(quantity="0.10000001", limit_price="99999999999.99999999")
    market = message(order_type="MARKET", limit_price=..., side="SELL", quantity="3")
    event = sqs_event([body_of(limit), body_of(market)])

    # WHEN the processor handles it
    failed = processor.invoke(event)

    # THEN nothing is reported failed and both rows hold the exact values and the region
    assert failed == []
    rows = processor.rows()
    assert rows[limit["trade_id"]][4:6] == (Decimal("0.10000001"), Decimal("99999999999.99999999"))
    assert rows[market["trade_id"]][2:6] == ("SELL", "MARKET", Decimal("3"), None)
    assert {r[7] for r in rows.values()} == {"us-east-1"}


def test_duplicate_deliveries_give_one_row(processor: Processor) -> None:
    # GIVEN one trade delivered twice in a batch and again in a later batch
    trade = message()
    first = sqs_event([body_of(trade), body_of(trade), body_of(message())])
    again = sqs_event([body_of(trade)], receive_count=2)

    # WHEN both batches are processed
    failed = processor.invoke(first) + processor.invoke(again)

    # THEN no record fails, the trade is stored once and the audit tells which copy stored it
    assert failed == []
    assert len(processor.rows()) == 2
    audit = processor.audits()
    assert [line["outcome"] for line in audit[0]] == ["stored", "already_stored", "stored"]
    assert [line["outcome"] for line in audit[1]] == ["already_stored"]


def test_only_the_bad_records_of_a_batch_are_reported(processor: Processor) -> None:
    # GIVEN a batch mixing good trades with ones that can never succeed
    good = [message(), message()]
    event = sqs_event(
        [
            body_of(good[0]),
            "{not json",
            body_of(message(quantity="-1")),
            body_of(good[1]),
            body_of(message(session_token="sess-0123456789abcdef")),
            "",
        ]
    )

    # WHEN it is processed
    failed = processor.invoke(event)

    # THEN exactly the bad records are reported, the good ones are stored, and the audit
    # gives each bad record its reason (the DLQ keeps only the message)
    assert failed == ids(event, 1, 2, 4, 5)
    assert set(processor.rows()) == {t["trade_id"] for t in good}
    [audit] = processor.audits()
    reasons = {line["message_id"]: line.get("reason", "") for line in audit}
    assert "malformed JSON" in reasons[ids(event, 1)[0]]
    assert "quantity: must be greater than 0" in reasons[ids(event, 2)[0]]
    assert "session_token: is not a known field" in reasons[ids(event, 4)[0]]


HUGE = "1111111111111111111111111.1111111111"
# Issue 12, defects 1 and 3: bodies that made the processor raise (the whole batch then went
# to the DLQ without an audit) or fail every record of the batch.
HOSTILE_BODIES = {
    "trade_id with a final newline": body_of(message(trade_id=f"{uuid.uuid4()}\n")),
    "symbol with a final newline": body_of(message(symbol="AAPL\n")),
    "quantity of 35 digits as a string": body_of(message(quantity=HUGE)),
    "quantity of 35 digits as a number": body_of(message(quantity="@")).replace('"@"', HUGE),
    "limit_price of 35 digits": body_of(message(limit_price=HUGE)),
    "timestamp overflowing to the past": body_of(
        message(client_timestamp="0001-01-01T00:00:00+01:00")
    ),
    "timestamp overflowing to the future": body_of(
        message(client_timestamp="9999-12-31T23:59:59-01:00")
    ),
    "deep nesting": "[" * 5000,
    "duplicate key": body_of(message())[:-1] + ', "quantity": "99999"}',
    "5000-digit integer": body_of(message(quantity="@")).replace('"@"', "1" * 5000),
    "lone surrogate": '{"symbol": "\\ud800"}',
}


@pytest.mark.parametrize("hostile", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_hostile_record_fails_alone_with_its_reason(processor: Processor, hostile: str) -> None:
    # GIVEN five valid trades and one hostile body in one batch
    good = [message() for _ in range(5)]
    event = sqs_event([body_of(good[0]), body_of(good[1]), hostile, *map(body_of, good[2:])])

    # WHEN it is processed
    failed = processor.invoke(event)

    # THEN only the hostile record is reported, the five are stored, and the audit names
    # the hostile record's reason
    assert failed == ids(event, 2)
    assert set(processor.rows()) == {t["trade_id"] for t in good}
    [audit] = processor.audits()
    outcomes = {line["message_id"]: line for line in audit}
    assert [line["outcome"] for line in audit].count("stored") == 5
    assert outcomes[ids(event, 2)[0]]["outcome"] == "rejected"
    assert outcomes[ids(event, 2)[0]]["reason"].startswith("invalid message:")


def test_malformed_record_attributes_do_not_cost_the_batch(processor: Processor) -> None:
    # GIVEN a record whose attributes and body are not what SQS normally sends
    good = message()
    event = sqs_event([body_of(good), "{}"])
    event["Records"][1]["attributes"] = {"ApproximateReceiveCount": "many"}
    event["Records"][1]["body"] = 42

    # WHEN it is processed
    failed = processor.invoke(event)

    # THEN only that record fails; the trade is stored
    assert failed == ids(event, 1)
    assert set(processor.rows()) == {good["trade_id"]}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(max_size=300) | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
                | st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                               lambda c: st.lists(c, max_size=3)
                               | st.dictionaries(st.text(max_size=10), c, max_size=4)).map(json.dumps),
                min_size=1, max_size=4))  # fmt: skip
def test_the_handler_never_raises_whatever_the_bodies(
    processor: Processor, bodies: list[str]
) -> None:
    # GIVEN one valid trade and any other bodies
    good = message()
    event = sqs_event([body_of(good), *bodies])

    # WHEN the batch is processed, THEN the handler answers, the trade is stored and only
    # the other records are reported
    failed = processor.invoke(event)
    assert failed == ids(event, *range(1, len(bodies) + 1))
    assert good["trade_id"] in processor.rows()


def test_a_batch_of_only_bad_records_is_still_audited(processor: Processor) -> None:
    # GIVEN a batch in which no record is a trade
    event = sqs_event(["{not json", "[]"])

    # WHEN it is processed
    failed = processor.invoke(event)

    # THEN both are reported, nothing is stored, and the batch has its audit object
    assert failed == ids(event, 0, 1)
    assert processor.rows() == {}
    [audit] = processor.audits()
    assert [line["outcome"] for line in audit] == ["rejected", "rejected"]


def test_trade_id_reused_for_a_different_trade_is_rejected(processor: Processor) -> None:
    # GIVEN a stored trade, then a batch reusing its id (and one id twice) for other orders
    original = message()
    processor.invoke(sqs_event([body_of(original)]))
    twin = message()
    event = sqs_event(
        [
            body_of({**original, "quantity": "11"}),
            body_of(twin),
            body_of({**twin, "side": "SELL"}),
        ]
    )

    # WHEN it is processed
    failed = processor.invoke(event)

    # THEN the conflicting records are reported (on their way to the DLQ); rows are untouched
    assert failed == ids(event, 0, 2)
    rows = processor.rows()
    assert rows[original["trade_id"]][4] == Decimal("10.5")
    assert rows[twin["trade_id"]][2] == "BUY"


def test_database_going_away_mid_batch_reports_the_batch_and_redelivery_stores_it_once(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a warm processor whose database stops while a batch is being written
    processor.invoke(sqs_event([body_of(message())]))
    trades = [message() for _ in range(5)]
    event = sqs_event([body_of(t) for t in trades] + ["not json"])
    server = processor.db.server
    params = processor.store._params

    def stop_then_insert(batch: Any) -> dict[str, Any]:
        server.stop("immediate")
        return params(batch)

    with monkeypatch.context() as patch:
        patch.setattr(processor.store, "_params", stop_then_insert)
        try:
            # WHEN the batch is processed
            failed = processor.invoke(event)
        finally:
            server.start()

    # THEN every record is reported (none was written); the batch had been sent when the
    # server went, so its audit says "unknown", under a key the outbox never uses ...
    assert failed == ids(event, 0, 1, 2, 3, 4, 5)
    assert len(processor.rows()) == 1
    assert [line["outcome"] for line in processor.audits()[1]] == ["unknown"] * 5 + ["rejected"]
    assert processor.keys()[1].endswith(".unconfirmed.jsonl")

    # ... and when SQS redelivers them, once the server is back, each is stored once
    retry = {"Records": event["Records"][:5] + event["Records"][:2]}
    assert processor.invoke(retry) == []
    assert set(processor.rows()) >= {t["trade_id"] for t in trades}
    assert len(processor.rows()) == 6


def test_connection_broken_between_invocations_is_reopened(processor: Processor) -> None:
    # GIVEN a warm processor whose kept connection died with a database restart
    processor.invoke(sqs_event([body_of(message())]))
    processor.db.server.stop("fast")
    processor.db.server.start()

    # WHEN the next batch arrives
    failed = processor.invoke(sqs_event([body_of(message()), body_of(message())]))

    # THEN it is stored on a new connection without reporting anything
    assert failed == []
    assert len(processor.rows()) == 3


def test_database_down_reports_all_and_the_audit_says_so(processor: Processor) -> None:
    # GIVEN the database is down before the first invocation
    processor.db.server.stop("fast")
    event = sqs_event([body_of(message()), body_of(message())])
    try:
        # WHEN a batch arrives
        failed = processor.invoke(event)
    finally:
        processor.db.server.start()

    # THEN both records are reported and audited as failed with the cause
    assert failed == ids(event, 0, 1)
    [audit] = processor.audits()
    assert {line["outcome"] for line in audit} == {"failed"}
    assert all("InterfaceError" in line["reason"] for line in audit)


def test_audit_object_per_batch_matches_the_rows(processor: Processor) -> None:
    # GIVEN three batches with redeliveries and a bad record among them
    trades = [message() for _ in range(7)]
    batches = [
        sqs_event([body_of(t) for t in trades[:3]]),
        sqs_event([body_of(t) for t in trades[2:6]] + ["[]"]),
        sqs_event([body_of(trades[6]), body_of(trades[0])]),
    ]

    # WHEN they are processed
    for batch in batches:
        processor.invoke(batch)

    # THEN there is one audit object per batch, one line per record, and the trades audited
    # as stored are exactly the rows, each stored once
    audits = processor.audits()
    assert [len(a) for a in audits] == [3, 5, 2]
    assert [[line["message_id"] for line in a] for a in audits] == [
        [r["messageId"] for r in b["Records"]] for b in batches
    ]
    stored = [line["trade_id"] for a in audits for line in a if line["outcome"] == "stored"]
    assert sorted(stored) == sorted(processor.rows())
    assert {line["region"] for a in audits for line in a} == {"us-east-1"}
    assert len({a[0]["batch_id"] for a in audits}) == 3


def test_row_refused_by_the_database_is_isolated(processor: Processor) -> None:
    # GIVEN a database rule (added for this test) that refuses one valid-looking trade
    conn = processor.db.server.connect(processor.db.name)
    conn.run("ALTER TABLE trades ADD CONSTRAINT no_gme CHECK (symbol <> 'GME')")
    conn.close()
    event = sqs_event([body_of(message()), body_of(message(symbol="GME")), body_of(message())])

    # WHEN the batch is processed
    failed = processor.invoke(event)

    # THEN only that record is reported (it would otherwise take its batch to the DLQ)
    assert failed == ids(event, 1)
    assert len(processor.rows()) == 2
    reason = processor.audits()[0][1]["reason"]
    assert "23514" in reason


def test_batches_larger_than_one_statement_are_split(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a statement size smaller than the batch
    monkeypatch.setattr(processor_logic, "MAX_ROWS_PER_STATEMENT", 3)
    trades = [message() for _ in range(8)]

    # WHEN the batch is processed
    failed = processor.invoke(sqs_event([body_of(t) for t in trades]))

    # THEN every trade is stored
    assert failed == []
    assert set(processor.rows()) == {t["trade_id"] for t in trades}


def test_s3_unreachable_holds_up_no_trade_and_the_audit_waits_in_the_outbox(
    processor: Processor,
) -> None:
    # GIVEN the audit bucket is unreachable
    processor.s3.delete_bucket(Bucket=BUCKET)
    event = sqs_event([body_of(message())])

    # WHEN a batch is processed, THEN the trade is stored and nothing is redelivered
    assert processor.invoke(event) == []
    assert len(processor.rows()) == 1

    # AND the shipper cannot deliver its audit object, which stays in the outbox
    report = processor.ship()
    assert list(report.failed) == processor.outbox()
    assert report.waiting == 1
    assert "NoSuchBucket" in next(iter(report.failed.values()))

    # AND once the bucket is back it is delivered, recording the first (storing) delivery
    processor.s3.create_bucket(Bucket=BUCKET)
    assert [line["outcome"] for line in processor.audits()[0]] == ["stored"]
    assert processor.outbox() == []


def test_no_trade_commits_without_its_audit_object(processor: Processor) -> None:
    # GIVEN an outbox that refuses every object (a rule added for this test)
    conn = processor.db.server.connect(processor.db.name)
    conn.run("ALTER TABLE audit_outbox ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    conn.close()
    event = sqs_event([body_of(message()), body_of(message())])

    # WHEN a batch is processed
    failed = processor.invoke(event)

    # THEN no trade is stored, every record is redelivered, and the audit object that could
    # not be committed was put into the bucket directly, saying so
    assert failed == ids(event, 0, 1)
    assert processor.rows() == {}
    [audit] = processor.audits()
    assert {line["outcome"] for line in audit} == {"failed"}
    assert all("23514" in line["reason"] for line in audit)


def test_a_retried_transaction_keeps_the_audit_object_that_committed_first(
    processor: Processor,
) -> None:
    # GIVEN a batch stored with its audit object (the first try, whose COMMIT reached the
    # server although its answer was lost)
    processor.invoke(sqs_event([body_of(message())]))
    trade = trade_from_message(body_of(message()))
    key = "trades/us-east-1/retried.jsonl"

    def journal(body: bytes) -> processor_logic.Journal:
        return lambda stored: AuditObject(key, body)

    first = processor.store.save([trade], journal(b"first\n"))

    # WHEN the same transaction runs again with the same key
    second = processor.store.save([trade], journal(b"second\n"))

    # THEN the trade is stored once, the second run says an earlier one committed, and the
    # outbox keeps the object that said "stored"
    assert first.inserted == {trade.trade_id}
    assert first.committed_call is None
    assert second.committed_call is not None
    assert len(processor.rows()) == 2
    processor.ship()
    assert processor._text(key) == "first\n"


def _lose_the_answer_once(
    processor: Processor, monkeypatch: pytest.MonkeyPatch, *, database_stays_away: bool
) -> list[bool]:
    """The batch's statement commits, then its connection drops before the answer arrives
    (and, if asked, no new connection can be opened until the returned list is cleared)."""
    rt = processor_handler.runtime()
    all_new = processor_logic.TradeStore._all_new
    connect = rt.store.connections._connect
    lost: list[bool] = []

    def commit_then_drop(self: Any, conn: Any, trades: Any, journal: Any) -> Any:
        result = all_new(self, conn, trades, journal)
        if not lost:
            lost.append(True)
            conn.close()
            raise InterfaceError("network error")
        return result

    def refuse() -> Any:
        if lost and database_stays_away:
            raise InterfaceError("cannot connect: network unreachable")
        return connect()

    monkeypatch.setattr(processor_logic.TradeStore, "_all_new", commit_then_drop)
    monkeypatch.setattr(rt.store.connections, "_connect", refuse)
    return lost


def test_a_commit_whose_answer_is_lost_keeps_one_audit_object(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a batch whose statement commits and whose connection then drops (issue 12,
    # defect 6: the batch was reported failed and audited "failed" under the outbox's key)
    _lose_the_answer_once(processor, monkeypatch, database_stays_away=False)
    event = sqs_event([body_of(message()) for _ in range(3)])

    # WHEN it is processed
    failed = processor.invoke(event)

    # THEN the retry finds the first attempt committed: nothing is reported, and the one
    # audit object (one version) says what the database holds
    assert failed == []
    assert len(processor.rows()) == 3
    assert [line["outcome"] for line in processor.audits()[0]] == ["stored"] * 3
    assert list(processor.versions().values()) == [1]


def test_a_lost_answer_with_the_database_gone_is_audited_apart(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a batch whose statement commits, then the database cannot be reached at all
    down = _lose_the_answer_once(processor, monkeypatch, database_stays_away=True)
    event = sqs_event([body_of(message()) for _ in range(3)])

    # WHEN it is processed and later the shipper runs
    failed = processor.invoke(event)
    audits = processor.audits()

    # THEN every record is redelivered; the outbox's object says "stored" (it committed) and
    # the processor's own says "unknown" under another key: no key holds two versions
    assert failed == ids(event, 0, 1, 2)
    assert len(processor.rows()) == 3
    [committed, unconfirmed] = processor.keys()
    assert unconfirmed == processor_logic.unconfirmed_key(committed)
    assert [[line["outcome"] for line in audit] for audit in audits] == [
        ["stored"] * 3,
        ["unknown"] * 3,
    ]
    assert set(processor.versions().values()) == {1}

    # ... and the redelivery, once the database is back, finds them stored
    down.clear()
    assert processor.invoke(event) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(), st.one_of(st.none(), st.text()), st.sampled_from(processor_logic.Outcome),
            st.one_of(st.none(), st.text()),
        ),
        max_size=5,
    ),
    st.text(), st.text(), st.datetimes(timezones=st.timezones()),
)  # fmt: skip
def test_audit_lines_are_exactly_what_json_dumps_writes(
    rows: list[tuple[str, str | None, processor_logic.Outcome, str | None]],
    region: str,
    batch_id: str,
    processed_at: datetime,
) -> None:
    # GIVEN any results, including odd text (quotes, control and non-ASCII characters)
    results = [processor_logic.RecordResult(*row) for row in rows]

    # WHEN the audit body is assembled
    body = processor_logic.audit_body(
        results, region=region, batch_id=batch_id, processed_at=processed_at
    )

    # THEN each line is the sorted, compact json.dumps of that record, and parses back
    expected = []
    for r in results:
        line = {"batch_id": batch_id, "message_id": r.message_id, "outcome": r.outcome.value,
                "processed_at": processed_at.isoformat(timespec="microseconds"),
                "region": region, "trade_id": r.trade_id}  # fmt: skip
        if r.reason:
            line["reason"] = r.reason
        expected.append(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
    assert body == "".join(expected).encode("utf-8")


ProcessFn = Callable[[list[str]], list[str]]


def test_where_it_is_not_the_writer_nothing_is_reported_failed(processor: Processor) -> None:
    # GIVEN a trade stored while this region was the writer, then the database turns into
    # a read-only member (the global cluster failed over elsewhere)
    stored, reused, new = message(), message(), message()
    assert processor.invoke(sqs_event([body_of(stored), body_of(reused)])) == []
    processor.read_only(True)
    other = {**reused, "quantity": "999"}
    event = sqs_event([body_of(stored), body_of(new), body_of(other), "[]"], receive_count=4)

    # WHEN a batch arrives holding the stored trade again, a new one, a reused trade_id
    # and a malformed message, each on its fourth receive
    failed = processor.invoke(event)

    # THEN only the malformed and the reused id are reported (they can never succeed);
    # the stored one is acknowledged and the new one went back to the queue as a fresh,
    # delayed message, so neither moves towards the DLQ; nothing was written
    assert failed == ids(event, 2, 3)
    assert set(processor.rows()) == {stored["trade_id"], reused["trade_id"]}
    assert processor.queue() == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesDelayed": "1",
    }
    # and the audit object went straight to S3 (the outbox is read-only too)
    audits = processor.audits()
    outcomes = {(line["trade_id"], line["outcome"]) for line in audits[-1]}
    assert outcomes == {
        (stored["trade_id"], "already_stored"),
        (new["trade_id"], "deferred"),
        (reused["trade_id"], "rejected"),
        (None, "rejected"),
    }


def test_deferred_trade_is_stored_once_this_region_is_the_writer(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a read-only region that deferred a trade back to its queue without delay
    monkeypatch.setenv("DEFER_DELAY_SECONDS", "0")
    processor.read_only(True)
    trade = message()
    assert processor.invoke(sqs_event([body_of(trade)])) == []
    [copy] = boto3.client("sqs").receive_message(
        QueueUrl=processor.queue_url, AttributeNames=["ApproximateReceiveCount"]
    )["Messages"]

    # WHEN the region becomes the writer (failback) and the copy is delivered
    processor.read_only(False)
    failed = processor.invoke(sqs_event([copy["Body"]]))

    # THEN the copy was a fresh message with the same trade, and it is stored once
    assert copy["Attributes"]["ApproximateReceiveCount"] == "1"
    assert (
        trade_from_message(copy["Body"]).canonical()
        == trade_from_message(body_of(trade)).canonical()
    )
    assert failed == []
    assert list(processor.rows()) == [trade["trade_id"]]
