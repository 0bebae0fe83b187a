"""One SQS batch of trades: parse, store once in PostgreSQL with its audit, report failures.

The batch's rows and its audit object (JSON Lines, one line per record) commit in one
transaction: the object goes into the `audit_outbox` table and the shipper function puts
it into S3. So no trade is stored without its audit line, whatever S3 is doing, and the
invocation spends no time on an S3 round trip. Only when the database cannot be reached,
and so holds nothing of the batch, does the handler put the audit object itself.

Outcomes per record:
- stored: inserted by this batch;
- already_stored: the same trade was stored before (a redelivery or a client retry);
- rejected: can never succeed (unparsable, invalid, or a trade_id reused for a different
  trade); reported failed so that after maxReceiveCount SQS moves it to the DLQ;
- failed: transient (database unreachable); reported failed so SQS delivers it again;
- unknown: the batch's statement reached the database but its answer did not, and the
  database stayed unreachable: it may have committed. Reported failed (the redelivery finds
  out), and audited under a key of its own (`unconfirmed_key`), never the outbox's;
- deferred: the database here is a read-only member of the global cluster (this region is
  not the writer) and the trade is not visible in it yet. Not reported failed, which
  would count receives towards the DLQ: the handler sends it back to the queue with a
  delay as a new message and acknowledges this one. The writer region's reconciler
  replays the trade from the journal meanwhile; when the copy comes back, the trade is
  visible on the replica and acknowledged as already stored. Nothing needs a human.

One audit object per key, saying what the database holds: the outbox object of a batch is
the one its committed transaction wrote. A connection lost after the statement was sent is
retried on a new connection; finding the batch's key in the outbox then means the first
attempt committed, and its object stays as it is.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from pg8000.exceptions import DatabaseError, InterfaceError
from trading_shared.audit import AuditObject
from trading_shared.db import (
    READ_ONLY_TRANSACTION,
    Connection,
    ConnectionCache,
    is_connection_error,
    sqlstate,
    transaction,
)
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
    UNKNOWN = "unknown"
    DEFERRED = "deferred"


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
        return self.outcome in (Outcome.REJECTED, Outcome.FAILED, Outcome.UNKNOWN)


@dataclass(frozen=True)
class StoreResult:
    inserted: set[str]
    existing: dict[str, Trade]  # stored earlier, as stored: compared to catch reused ids
    rejected: dict[str, str] = field(default_factory=dict)  # refused by the database
    # The batch's audit object was already in the outbox: an earlier attempt (whose answer
    # was lost) committed, and its journal call `committed_call` (0-based) is what it wrote.
    committed_call: int | None = None


class OutcomeUnknownError(Exception):
    """The batch's statement reached the database and no answer came back: it may have
    committed. The outbox key must not be written by anyone else then."""


@dataclass(frozen=True)
class BatchResult:
    results: list[RecordResult]
    audit: AuditObject
    # True when the audit object committed with the rows (in the outbox); False when the
    # database took nothing, and the caller must put the object into S3 itself.
    journaled: bool
    store_error: BaseException | None = None

    def response(self, also_failed: Iterable[str] = ()) -> dict[str, list[dict[str, str]]]:
        """The ReportBatchItemFailures contract: only the failed records are redelivered
        (and `also_failed`: deferred records the handler could not send back)."""
        failed = {r.message_id for r in self.results if r.failed} | set(also_failed)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r.message_id} for r in self.results if r.message_id in failed
            ]
        }

    def deferred(self) -> list[RecordResult]:
        return [r for r in self.results if r.outcome is Outcome.DEFERRED]

    def counts(self) -> dict[Outcome, int]:
        return {o: sum(r.outcome is o for r in self.results) for o in Outcome}


# Given what the database did with the batch's trades, the audit object to commit with them.
Journal = Callable[[StoreResult], AuditObject]


class BatchStore(Protocol):
    def save(self, trades: list[Trade], journal: Journal) -> StoreResult: ...

    def stored(self, trade_ids: list[str]) -> dict[str, Trade]: ...


def records_from_event(event: Mapping[str, Any]) -> list[Record]:
    return [
        Record(
            message_id=r["messageId"],
            body=r.get("body") or "",
            receive_count=_receive_count(r.get("attributes")),
        )
        for r in event.get("Records", [])
    ]


def _receive_count(attributes: object) -> int:
    # Only logged: a malformed attribute must not cost the batch.
    raw = attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() else 0


def process_batch(
    records: Sequence[Record],
    store: BatchStore,
    audit: Callable[[list[RecordResult]], AuditObject],
) -> BatchResult:
    """Parse, store and journal one batch. `audit` turns the records' results into the
    batch's audit object (its key and JSON Lines body)."""
    parsed: list[tuple[Record, Trade]] = []
    invalid: dict[str, RecordResult] = {}
    first: dict[str, Trade] = {}
    for record in records:
        try:
            trade = trade_from_message(record.body)
        except TradeValidationError as exc:
            invalid[record.message_id] = RecordResult(
                record.message_id, None, Outcome.REJECTED, f"invalid message: {exc}"
            )
            continue
        except Exception as exc:
            invalid[record.message_id] = RecordResult(
                record.message_id, None, Outcome.REJECTED,
                f"invalid message: {type(exc).__name__}: {str(exc)[:200]}",
            )  # fmt: skip
            continue
        parsed.append((record, trade))
        first.setdefault(trade.trade_id, trade)

    def classify(stored: StoreResult, store_error: BaseException | None) -> list[RecordResult]:
        results = dict(invalid)
        claimed: set[str] = set()
        for record, trade in parsed:
            results[record.message_id] = _outcome(trade, record, first, stored, store_error,
                                                  claimed)  # fmt: skip
        return [results[r.message_id] for r in records]

    # The journal runs inside the store's transaction; a retry on a fresh connection runs
    # it again, and the last run is the one that committed.
    journaled: list[tuple[list[RecordResult], AuditObject]] = []

    def journal(stored: StoreResult) -> AuditObject:
        results = classify(stored, None)
        journaled.append((results, audit(results)))
        return journaled[-1][1]

    try:
        stored = store.save(list(first.values()), journal)
    except OutcomeUnknownError as exc:
        if _read_only(exc.__cause__):
            # An answer was lost, then the database said it is read-only: what it holds
            # decides (a lost attempt that committed shows there); the audit goes beside
            # the outbox key, which that attempt may have used.
            batch = _not_the_writer(records, invalid, parsed, first, store, audit, exc)
            return replace(batch, audit=AuditObject(unconfirmed_key(batch.audit.key),
                                                    batch.audit.body))  # fmt: skip
        # The outbox may hold this key's object already: this one goes under its own key.
        results = classify(StoreResult(inserted=set(), existing={}), exc)
        fallback = audit(results)
        return BatchResult(
            results, AuditObject(unconfirmed_key(fallback.key), fallback.body),
            journaled=False, store_error=exc,
        )  # fmt: skip
    except Exception as exc:  # nothing reached the database: reported and retried by SQS
        if _read_only(exc):
            return _not_the_writer(records, invalid, parsed, first, store, audit, exc)
        results = classify(StoreResult(inserted=set(), existing={}), exc)
        return BatchResult(results, audit(results), journaled=False, store_error=exc)
    index = -1 if stored.committed_call is None else stored.committed_call
    results, audit_object = journaled[index]
    return BatchResult(results, audit_object, journaled=True)


def _not_the_writer(
    records: Sequence[Record],
    invalid: dict[str, RecordResult],
    parsed: list[tuple[Record, Trade]],
    first: dict[str, Trade],
    store: BatchStore,
    audit: Callable[[list[RecordResult]], AuditObject],
    error: BaseException,
) -> BatchResult:
    """The database refused the write as read-only: this region is not the writer. What
    the replica already holds is acknowledged; the rest is deferred (see the module
    docstring). If even the read fails, the records are failed as usual."""
    outcomes: dict[str, RecordResult] = dict(invalid)
    try:
        existing = store.stored(list(first))
    except Exception as exc:
        for record, trade in parsed:
            outcomes[record.message_id] = RecordResult(
                record.message_id, trade.trade_id, Outcome.FAILED, f"not stored: {describe(exc)}"
            )
        failed = [outcomes[r.message_id] for r in records]
        return BatchResult(failed, audit(failed), journaled=False, store_error=exc)
    for record, trade in parsed:
        outcomes[record.message_id] = _read_only_outcome(record, trade, existing)
    results = [outcomes[r.message_id] for r in records]
    return BatchResult(results, audit(results), journaled=False, store_error=error)


def _read_only_outcome(record: Record, trade: Trade, existing: dict[str, Trade]) -> RecordResult:
    stored = existing.get(trade.trade_id)
    if stored is None:
        return RecordResult(
            record.message_id, trade.trade_id, Outcome.DEFERRED,
            "read-only member: deferred; the writer region's reconciler stores it",
        )  # fmt: skip
    if stored.canonical() != trade.canonical():
        return RecordResult(record.message_id, trade.trade_id, Outcome.REJECTED,
                            "trade_id already used for a different trade")  # fmt: skip
    return RecordResult(record.message_id, trade.trade_id, Outcome.ALREADY_STORED)


def unconfirmed_key(key: str) -> str:
    """Where the audit of a batch whose outcome is unknown goes: beside the outbox key,
    never on it."""
    return key.removesuffix(".jsonl") + ".unconfirmed.jsonl"


def _outcome(
    trade: Trade,
    record: Record,
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
    if isinstance(store_error, OutcomeUnknownError):
        return result(Outcome.UNKNOWN, f"outcome unknown: {store_error}")
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


def _read_only(exc: BaseException | None) -> bool:
    """The database refused the write as read-only: a definite answer (nothing was
    written), not a lost one, so the outcome is known and a retry would change nothing."""
    return exc is not None and sqlstate(exc) == READ_ONLY_TRANSACTION


def _refused_row(exc: DatabaseError) -> bool:
    """Data (22) or integrity (23) errors belong to some row, not to the batch."""
    return (sqlstate(exc) or "").startswith(("22", "23"))


class _CommittedEarlierError(Exception):
    pass


class TradeStore:
    """Writes a batch's trades and its audit object in one transaction on a kept connection:
    one multi-row INSERT per batch, then the audit object into the outbox."""

    def __init__(self, connections: ConnectionCache, region: str) -> None:
        self.connections = connections
        self.region = region
        # Prepared once per (connection, statement): parsing a 900-parameter statement
        # on every batch would cost more than executing it.
        self._prepared: weakref.WeakKeyDictionary[Connection, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def save(self, trades: list[Trade], journal: Journal) -> StoreResult:
        """Store the batch with its audit object. The transaction is all or nothing, so it
        may run again on a new connection (ConnectionCache retries a kept one once; a lost
        answer is retried here once more). Raises OutcomeUnknownError when a statement was
        sent and no attempt got an answer."""
        calls = 0
        starts: list[int] = []  # journal calls made before each attempt
        lost: list[BaseException] = []  # answers lost after a statement was sent

        def counted(stored: StoreResult) -> AuditObject:
            nonlocal calls
            calls += 1
            return journal(stored)

        def attempt(conn: Connection) -> StoreResult:
            starts.append(calls)
            try:
                return self._save(conn, trades, counted)
            except (InterfaceError, OSError) as exc:
                # No answer: the server may have committed. (An error the server sent
                # means it rolled the statement back.)
                lost.append(exc)
                raise

        try:
            try:
                stored = self.connections.run(attempt)
            except Exception as exc:
                if not (lost and is_connection_error(exc)) or _read_only(exc):
                    raise
                stored = self.connections.run(attempt)
        except Exception as exc:
            if lost:
                raise OutcomeUnknownError(
                    f"the database did not answer after the batch was sent "
                    f"({describe(lost[-1])}), then {describe(exc)}"
                ) from exc
            raise
        if stored.committed_call is not None:
            # The attempt before this one committed; its last journal call is its object.
            return replace(stored, committed_call=starts[-1] - 1)
        return stored

    def stored(self, trade_ids: list[str]) -> dict[str, Trade]:
        """The given trades as stored (a read: a read-only replica answers it too)."""
        return self.connections.run(lambda conn: self._existing(conn, trade_ids))

    def _save(self, conn: Connection, trades: list[Trade], journal: Journal) -> StoreResult:
        try:
            return self._save_once(conn, trades, journal)
        except _CommittedEarlierError:
            return StoreResult(inserted=set(), existing={}, committed_call=-1)

    def _save_once(self, conn: Connection, trades: list[Trade], journal: Journal) -> StoreResult:
        if 0 < len(trades) <= MAX_ROWS_PER_STATEMENT:
            try:
                return self._all_new(conn, trades, journal)
            except DatabaseError as exc:
                # Some trade was stored before or refused: the transaction below finds which.
                if not _refused_row(exc):
                    raise
        try:
            return self._transaction(conn, trades, journal, isolate_rows=False)
        except DatabaseError as exc:
            if not _refused_row(exc):
                raise
        # Some row was refused: find it row by row rather than sending the whole batch to
        # the DLQ. Rare, so the fast path pays nothing for it.
        return self._transaction(conn, trades, journal, isolate_rows=True)

    def _all_new(self, conn: Connection, trades: list[Trade], journal: Journal) -> StoreResult:
        """The common case in one statement and one round trip, as cheap as the bare INSERT:
        journal the batch as if every trade is new, and let the statement itself verify it.
        If fewer rows went in than expected the audit body becomes NULL, the NOT NULL
        constraint fails the statement, and nothing of it commits."""
        stored = StoreResult(inserted={t.trade_id for t in trades}, existing={})
        audit = journal(stored)
        statement = self._statement(
            conn, f"all_new_{len(trades)}", lambda: all_new_sql(len(trades))
        )
        statement.run(**self._params(trades), key=audit.key, body=audit.body)
        return stored

    def _transaction(
        self, conn: Connection, trades: list[Trade], journal: Journal, *, isolate_rows: bool
    ) -> StoreResult:
        with transaction(conn):
            inserted: set[str] = set()
            rejected: dict[str, str] = {}
            for start in range(0, len(trades), MAX_ROWS_PER_STATEMENT):
                chunk = trades[start : start + MAX_ROWS_PER_STATEMENT]
                if isolate_rows:
                    inserted |= self._insert_each(conn, chunk, rejected)
                else:
                    inserted |= self._insert(conn, chunk)
            others = [t.trade_id for t in trades if t.trade_id not in inserted | rejected.keys()]
            stored = StoreResult(inserted, self._existing(conn, others), rejected)
            audit = journal(stored)
            conn.run(OUTBOX_SQL, key=audit.key, body=audit.body)
            if conn.row_count == 0:
                # This batch's key is taken: an earlier attempt committed. Undo this one
                # (it changed nothing: its trades were all there) and keep that object.
                raise _CommittedEarlierError
        return stored

    def _insert_each(
        self, conn: Connection, trades: list[Trade], rejected: dict[str, str]
    ) -> set[str]:
        inserted: set[str] = set()
        for trade in trades:
            conn.run("SAVEPOINT trade_row")
            try:
                inserted |= self._insert(conn, [trade])
            except DatabaseError as exc:
                if not _refused_row(exc):
                    raise
                conn.run("ROLLBACK TO SAVEPOINT trade_row")
                rejected[trade.trade_id] = f"refused by the database: {describe(exc)}"
        return inserted

    def _statement(self, conn: Connection, name: str, sql: Callable[[], str]) -> Any:
        statements = self._prepared.setdefault(conn, {})
        statement = statements.get(name)
        if statement is None:
            statement = statements[name] = conn.prepare(sql())
        return statement

    def _insert(self, conn: Connection, trades: list[Trade]) -> set[str]:
        statement = self._statement(conn, f"insert_{len(trades)}", lambda: insert_sql(len(trades)))
        return {str(row[0]) for row in statement.run(**self._params(trades))}

    def _params(self, trades: list[Trade]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for i, trade in enumerate(trades):
            params.update({f"{c}_{i}": v for c, v in zip(COLUMNS, self._row(trade), strict=True)})
        return params

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


# A retried transaction whose first COMMIT did reach the server finds its object there.
# No conflict target: naming one needs SELECT on it, and trading_app may not read the outbox.
OUTBOX_SQL = (
    "INSERT INTO audit_outbox (object_key, body) VALUES (:key, :body) ON CONFLICT DO NOTHING"
)


def all_new_sql(rows: int) -> str:
    """The batch's INSERT and its audit object in one statement, valid only if all `rows`
    trades were new (see TradeStore._all_new)."""
    return (
        f"WITH stored AS ({insert_sql(rows)}) "
        "INSERT INTO audit_outbox (object_key, body) "
        f"SELECT :key, CASE WHEN (SELECT count(*) FROM stored) = {rows} "
        "THEN CAST(:body AS bytea) END"
    )


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
    """JSON Lines, one per record: what happened to each trade, where, and when.

    Each line is what `json.dumps(line, sort_keys=True, separators=(",", ":"))` writes
    (a test holds them equal), assembled from the C string encoder json.dumps itself uses:
    a dumps call per line cost as much as the batch's INSERT."""
    head = f'{{"batch_id":{_json_str(batch_id)},"message_id":'
    when = _json_str(processed_at.isoformat(timespec="microseconds"))
    tail = f',"region":{_json_str(region)},"trade_id":'
    lines = []
    for r in results:
        reason = f',"reason":{_json_str(r.reason)}' if r.reason else ""
        trade_id = "null" if r.trade_id is None else _json_str(r.trade_id)
        lines.append(
            f'{head}{_json_str(r.message_id)},"outcome":"{r.outcome.value}",'
            f'"processed_at":{when}{reason}{tail}{trade_id}}}\n'
        )
    return "".join(lines).encode("utf-8")


# json.dumps' own encoder for strings (ASCII-only output, as ensure_ascii=True gives).
_json_str: Callable[[str], str] = json.encoder.encode_basestring_ascii
