"""One SQS batch of trades: parse, store once in PostgreSQL, audit, report failures.

Outcomes per record:
- stored: inserted by this batch;
- already_stored: the same trade was stored before (a redelivery or a client retry);
- rejected: can never succeed (unparsable, invalid, or a trade_id reused for a different
  trade); reported failed so that after maxReceiveCount SQS moves it to the DLQ;
- failed: transient (database unreachable); reported failed so SQS delivers it again.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pg8000.exceptions import DatabaseError
from trading_shared.db import Connection, ConnectionCache, sqlstate
from trading_shared.trade import (
    TRADE_FIELDS,
    OrderType,
    Side,
    Trade,
    TradeValidationError,
    trade_from_message,
)

# The trade's own fields, then which region stored it.
COLUMNS = (*TRADE_FIELDS, "processed_region")
# 9 parameters a row; PostgreSQL allows 65535 per statement. SQS batches are at most 10,000
# records, so big batches take several statements (each idempotent on its own).
MAX_ROWS_PER_STATEMENT = 1000


class Outcome(StrEnum):
    STORED = "stored"
    ALREADY_STORED = "already_stored"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True)
class Record:
    message_id: str
    body: str
    receive_count: int


@dataclass(frozen=True)
class RecordResult:
    message_id: str
    trade_id: str | None
    outcome: Outcome
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.REJECTED, Outcome.FAILED)


@dataclass(frozen=True)
class StoreResult:
    inserted: set[str]
    existing: dict[str, Trade]  # stored earlier, as stored: compared to catch reused ids
    rejected: dict[str, str] = field(default_factory=dict)  # refused by the database


@dataclass(frozen=True)
class BatchResult:
    results: list[RecordResult]
    store_error: BaseException | None = None

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The ReportBatchItemFailures contract: only the failed records are redelivered."""
        return {
            "batchItemFailures": [
                {"itemIdentifier": r.message_id} for r in self.results if r.failed
            ]
        }

    def counts(self) -> dict[Outcome, int]:
        return {o: sum(r.outcome is o for r in self.results) for o in Outcome}


def records_from_event(event: Mapping[str, Any]) -> list[Record]:
    return [
        Record(
            message_id=r["messageId"],
            body=r.get("body") or "",
            receive_count=int(r.get("attributes", {}).get("ApproximateReceiveCount", "1")),
        )
        for r in event.get("Records", [])
    ]


def process_batch(
    records: Sequence[Record], store: Callable[[list[Trade]], StoreResult]
) -> BatchResult:
    parsed: list[tuple[Record, Trade]] = []
    results: dict[str, RecordResult] = {}
    first: dict[str, Trade] = {}
    for record in records:
        try:
            trade = trade_from_message(record.body)
        except TradeValidationError as exc:
            results[record.message_id] = RecordResult(
                record.message_id, None, Outcome.REJECTED, f"invalid message: {exc}"
            )
            continue
        parsed.append((record, trade))
        first.setdefault(trade.trade_id, trade)

    store_error: BaseException | None = None
    stored = StoreResult(inserted=set(), existing={})
    if first:
        try:
            stored = store(list(first.values()))
        except Exception as exc:  # reported per record and retried by SQS
            store_error = exc

    claimed: set[str] = set()
    for record, trade in parsed:
        results[record.message_id] = _outcome(record, trade, first, stored, store_error, claimed)
    return BatchResult([results[r.message_id] for r in records], store_error)


def _outcome(
    record: Record,
    trade: Trade,
    first: dict[str, Trade],
    stored: StoreResult,
    store_error: BaseException | None,
    claimed: set[str],
) -> RecordResult:
    tid = trade.trade_id

    def result(outcome: Outcome, reason: str | None = None) -> RecordResult:
        return RecordResult(record.message_id, tid, outcome, reason)

    reference = stored.existing.get(tid, first[tid])
    if reference is not trade and trade.canonical() != reference.canonical():
        return result(Outcome.REJECTED, "trade_id already used for a different trade")
    if store_error is not None:
        return result(Outcome.FAILED, f"not stored: {describe(store_error)}")
    if tid in stored.rejected:
        return result(Outcome.REJECTED, stored.rejected[tid])
    if tid in stored.inserted and tid not in claimed:
        claimed.add(tid)
        return result(Outcome.STORED)
    return result(Outcome.ALREADY_STORED)


def describe(exc: BaseException) -> str:
    code = sqlstate(exc)
    return f"{type(exc).__name__}" + (f" (SQLSTATE {code})" if code else f": {exc}")


class TradeStore:
    """Writes trades through a kept connection: one multi-row INSERT per batch."""

    def __init__(self, connections: ConnectionCache, region: str) -> None:
        self.connections = connections
        self.region = region
        # Prepared once per (connection, row count): parsing a 900-parameter statement
        # on every batch would cost more than executing it.
        self._prepared: weakref.WeakKeyDictionary[Connection, dict[int, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def save(self, trades: list[Trade]) -> StoreResult:
        # Every step is idempotent, so ConnectionCache may rerun it on a fresh connection.
        return self.connections.run(lambda conn: self._save(conn, trades))

    def _save(self, conn: Connection, trades: list[Trade]) -> StoreResult:
        inserted: set[str] = set()
        rejected: dict[str, str] = {}
        for start in range(0, len(trades), MAX_ROWS_PER_STATEMENT):
            chunk = trades[start : start + MAX_ROWS_PER_STATEMENT]
            try:
                inserted |= self._insert(conn, chunk)
            except DatabaseError as exc:
                code = sqlstate(exc) or ""
                # Data (22) or integrity (23) errors belong to some row, not the batch:
                # find it row by row rather than sending the whole batch to the DLQ.
                if not code.startswith(("22", "23")):
                    raise
                for trade in chunk:
                    try:
                        inserted |= self._insert(conn, [trade])
                    except DatabaseError as row_exc:
                        if not (sqlstate(row_exc) or "").startswith(("22", "23")):
                            raise
                        rejected[trade.trade_id] = f"refused by the database: {describe(row_exc)}"
        others = [t.trade_id for t in trades if t.trade_id not in inserted | rejected.keys()]
        return StoreResult(inserted, self._existing(conn, others), rejected)

    def _insert(self, conn: Connection, trades: list[Trade]) -> set[str]:
        statements = self._prepared.setdefault(conn, {})
        statement = statements.get(len(trades))
        if statement is None:
            statement = statements[len(trades)] = conn.prepare(insert_sql(len(trades)))
        params: dict[str, Any] = {}
        for i, trade in enumerate(trades):
            params.update({f"{c}_{i}": v for c, v in zip(COLUMNS, self._row(trade), strict=True)})
        return {str(row[0]) for row in statement.run(**params)}

    def _row(self, trade: Trade) -> tuple[Any, ...]:
        return (
            UUID(trade.trade_id),
            trade.account_id,
            trade.symbol,
            trade.side.value,
            trade.order_type.value,
            trade.quantity,
            trade.limit_price,
            trade.client_timestamp,
            self.region,
        )

    def _existing(self, conn: Connection, trade_ids: list[str]) -> dict[str, Trade]:
        if not trade_ids:
            return {}
        rows = conn.run(
            "SELECT trade_id, account_id, symbol, side, order_type, quantity, limit_price, "
            "client_timestamp FROM trades WHERE trade_id = ANY(:ids)",
            ids=[UUID(t) for t in trade_ids],
        )
        return {str(row[0]): _trade_from_row(row) for row in rows}


def insert_sql(rows: int) -> str:
    values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in COLUMNS) + ")" for i in range(rows))
    return (
        f"INSERT INTO trades ({', '.join(COLUMNS)}) VALUES {values} "
        "ON CONFLICT (trade_id) DO NOTHING RETURNING trade_id"
    )


def _trade_from_row(row: Sequence[Any]) -> Trade:
    return Trade(
        trade_id=str(row[0]),
        account_id=row[1],
        symbol=row[2],
        side=Side(row[3]),
        order_type=OrderType(row[4]),
        quantity=row[5],
        limit_price=row[6],
        client_timestamp=row[7],
    )


def audit_key(prefix: str, region: str, processed_at: datetime, batch_id: str) -> str:
    return f"{prefix}{region}/{processed_at:%Y/%m/%d/%H%M%S%f}-{batch_id}.jsonl"


def audit_body(
    results: Iterable[RecordResult], *, region: str, batch_id: str, processed_at: datetime
) -> bytes:
    """JSON Lines, one per record: what happened to each trade, where, and when."""
    when = processed_at.isoformat(timespec="microseconds")
    lines = []
    for r in results:
        line: dict[str, str | None] = {
            "batch_id": batch_id,
            "message_id": r.message_id,
            "outcome": r.outcome.value,
            "processed_at": when,
            "region": region,
            "trade_id": r.trade_id,
        }
        if r.reason:
            line["reason"] = r.reason
        lines.append(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
    return "".join(lines).encode("utf-8")


def write_audit(s3: Any, bucket: str, key: str, body: bytes) -> None:
    # An explicit checksum: Object Lock buckets refuse PUTs without one.
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/x-ndjson",
        ChecksumAlgorithm="SHA256",
    )
