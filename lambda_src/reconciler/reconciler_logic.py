"""One reconciler pass: journal entries past the grace period that Aurora does not hold
are queued again, in the writer region only.

Reads the journal's sparse pending index by time window (one Query per minute and shard,
see trading_shared.journal), asks Aurora which of those trades it holds, takes the stored
ones out of the index and, where this region is the writer, sends the others to this
region's trade queue; the processor stores them exactly once, as any message. A region
that is not the writer (its database is a read-only member) changes nothing and only
measures, so each region's view is published either way.

After a failover the new writer's passes find every trade stranded in the old primary's
queue (its journal entries replicated here) and replay them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from trading_shared.journal import SHARDS, Entry, minute_of, pending_key

MINUTE_MS = 60_000


@dataclass
class PassReport:
    writer: bool
    read: int = 0  # pending entries past the grace period
    cleared: int = 0  # found in Aurora, taken out of the pending index
    replayed: int = 0  # sent to the queue again
    unreconciled: int = 0  # past the grace period and not in Aurora
    oldest_age_s: float = 0.0  # age of the oldest of those
    failed: dict[str, str] = field(default_factory=dict)  # trade_id -> why not replayed

    def as_dict(self) -> dict[str, object]:
        return {
            "writer": self.writer,
            "read": self.read,
            "cleared": self.cleared,
            "replayed": self.replayed,
            "unreconciled": self.unreconciled,
            "oldest_age_s": round(self.oldest_age_s, 3),
            "failed": sorted(self.failed),
        }


def window(now_ms: int, grace_s: float, lookback_minutes: int) -> tuple[list[str], int]:
    """The pending-index partitions to query (every shard of every minute from
    `lookback_minutes` ago up to the cutoff's minute) and the cutoff: entries accepted
    after it are still within their grace period."""
    cutoff = now_ms - int(grace_s * 1000)
    first = now_ms // MINUTE_MS - lookback_minutes
    last = cutoff // MINUTE_MS
    keys = [
        pending_key(minute_of(minute * MINUTE_MS), shard)
        for minute in range(first, last + 1)
        for shard in range(SHARDS)
    ]
    return keys, cutoff


@dataclass(frozen=True)
class Calls:
    """What a pass does to the outside world (the handler binds them to AWS and Aurora)."""

    query: Callable[[str, int], list[Entry]]  # (partition, cutoff) -> entries
    stored: Callable[[list[str]], set[str]]  # which of these trade ids Aurora holds
    replay: Callable[[list[Entry]], dict[str, str]]  # -> trade ids not sent, with why
    clear: Callable[[str], None]  # take one trade out of the pending index


def reconcile_pass(
    calls: Calls,
    *,
    now_ms: int,
    grace_s: float,
    lookback_minutes: int,
    writer: bool,
    pool: Executor,
) -> PassReport:
    keys, cutoff = window(now_ms, grace_s, lookback_minutes)
    entries = _unique(e for page in pool.map(lambda k: calls.query(k, cutoff), keys) for e in page)
    report = PassReport(writer=writer, read=len(entries))
    if not entries:
        return report
    in_aurora = calls.stored([e.trade_id for e in entries])
    missing = [e for e in entries if e.trade_id not in in_aurora]
    report.unreconciled = len(missing)
    if missing:
        report.oldest_age_s = (now_ms - min(e.accepted_ms for e in missing)) / 1000
    if not writer:
        return report  # a read-only member: the writer's reconciler acts on the same view
    list(pool.map(calls.clear, sorted(in_aurora)))
    report.cleared = len(in_aurora)
    if missing:
        report.failed = calls.replay(missing)
        report.replayed = len(missing) - len(report.failed)
    return report


def _unique(entries: Iterable[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.trade_id, entry)
    return sorted(seen.values(), key=lambda e: (e.accepted_ms, e.trade_id))
