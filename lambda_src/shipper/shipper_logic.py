"""Ship the audit outbox into S3: each committed batch's audit object is put under its key,
then its row is deleted.

The processor commits every batch's audit object into `audit_outbox` with the batch's rows
(processor_logic); this moves them into the region's audit bucket (Object Lock, replicated).
Delivery is at least once: a put whose DELETE is lost (crash, connection drop) is repeated
by the next run with the same key and the same bytes, so the bucket ends up with the same
object (Object Lock keeps both versions, identical).

Only the writer region's database accepts the DELETE. A read-only member (the secondary of
the global cluster) ships nothing; after a failover the new writer's shipper drains what
the old one left, from the replicated table. Runs are serialised by a transaction-scoped
advisory lock: an overlapping run finds the lock taken and leaves at once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from trading_shared.audit import AuditObject
from trading_shared.db import Connection, transaction

# Any fixed 64-bit key, distinct from the migrator's.
ADVISORY_LOCK_KEY = 7_142_500_193_114_800_002

Put = Callable[[AuditObject], None]


class State(StrEnum):
    SHIPPED = "shipped"  # this run held the lock and shipped what it could
    BUSY = "busy"  # another run holds the lock
    READ_ONLY = "read_only"  # a read-only member of the global cluster: not our job here


@dataclass
class ShipReport:
    state: State = State.SHIPPED
    shipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key -> why the put failed
    waiting: int = 0  # objects still in the outbox after this run
    oldest_age_s: float = 0.0  # how long the oldest of those has waited

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "shipped": len(self.shipped),
            "failed": sorted(self.failed),
            "waiting": self.waiting,
            "oldest_age_s": round(self.oldest_age_s, 3),
        }


def ship(
    conn: Connection,
    put: Put,
    *,
    batch_size: int,
    pool: Executor,
    time_left: Callable[[], bool],
) -> ShipReport:
    """Drain the outbox oldest first, `batch_size` objects per transaction, while
    `time_left()` holds; then measure what is left. An object whose put fails stays in the
    outbox and is skipped for the rest of this run, so one bad object never holds up the
    others (the handler alarms on it; the next run tries it again)."""
    report = ShipReport()
    while True:
        full = _round(conn, put, batch_size, pool, report)
        if report.state is not State.SHIPPED or not full or not time_left():
            break
    if report.state is not State.READ_ONLY:
        [[waiting, oldest]] = conn.run(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) "
            "FROM audit_outbox"
        )
        report.waiting, report.oldest_age_s = int(waiting), float(Decimal(oldest))
    return report


def _round(conn: Connection, put: Put, batch_size: int, pool: Executor, report: ShipReport) -> bool:
    """One transaction: lock, read up to `batch_size` objects not failed yet in this run, put
    them in parallel, delete those put. True when the page was full (more may be waiting)."""
    with transaction(conn):
        [[read_only, locked]] = conn.run(
            "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery(), "
            "pg_try_advisory_xact_lock(:lock)",
            lock=ADVISORY_LOCK_KEY,
        )
        if read_only or not locked:
            report.state = State.READ_ONLY if read_only else State.BUSY
            return False
        rows = conn.run(
            "SELECT object_key, body FROM audit_outbox"
            " WHERE NOT object_key = ANY(CAST(:skip AS text[]))"
            " ORDER BY created_at, object_key LIMIT :n",
            skip=sorted(report.failed), n=batch_size,
        )  # fmt: skip
        objects = [AuditObject(key, bytes(body)) for key, body in rows]
        errors = list(pool.map(lambda audit: _put(put, audit), objects))
        done = [o.key for o, error in zip(objects, errors, strict=True) if error is None]
        if done:
            conn.run("DELETE FROM audit_outbox WHERE object_key = ANY(:keys)", keys=done)
    report.shipped.extend(done)
    report.failed.update({o.key: e for o, e in zip(objects, errors, strict=True) if e})
    return len(objects) == batch_size


def _put(put: Put, audit: AuditObject) -> str | None:
    """None when the object is in the bucket, else why not (it stays in the outbox)."""
    try:
        put(audit)
    except Exception as exc:  # each object fails on its own; the rest still ship
        return f"{type(exc).__name__}: {exc}"
    return None
