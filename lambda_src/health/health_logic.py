"""GET /health: can this region accept trades? Each dependency checked in parallel with a
deadline.

Accepting a trade needs the sessions table, the journal and this region's queue, not the
Aurora writer: a read-only member's processor defers what it cannot store and the writer
region's reconciler replays it from the journal. So a region whose database answers in
either role is healthy, and Route 53 can move traffic to the recovery region as soon as
the primary fails its checks, before the promotion (the DR budget's traffic path). The
fence, not this answer, keeps traffic off an old primary after a failover.

Route 53 counts a region healthy on 2xx/3xx answered within 2 s of connecting, so the
checks run concurrently and a check still running at the deadline counts as failed.
Errors are reported by class only: the endpoint is public, the detail goes to the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from trading_shared.db import Connector, close_quietly


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    latency_ms: int
    error: str | None = None
    detail: str | None = None  # for the log only

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "latency_ms": self.latency_ms}
        if self.error:
            data["error"] = self.error
        return data


def run_checks(
    probes: Mapping[str, Callable[[], None]],
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> list[Check]:
    start = clock()
    executor = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="health")
    futures: dict[str, Future[int]] = {
        name: executor.submit(_timed, probe, clock) for name, probe in probes.items()
    }
    wait(futures.values(), timeout=timeout_s)
    # Do not wait for stragglers: they end on their own socket timeouts.
    executor.shutdown(wait=False, cancel_futures=True)
    checks = []
    for name, future in futures.items():
        if not future.done():
            elapsed = int((clock() - start) * 1000)
            checks.append(Check(name, False, elapsed, "Timeout", f"no answer in {timeout_s} s"))
        elif (exc := future.exception()) is not None:
            elapsed = int((clock() - start) * 1000)
            checks.append(Check(name, False, elapsed, type(exc).__name__, str(exc)))
        else:
            checks.append(Check(name, True, future.result()))
    return checks


def _timed(probe: Callable[[], None], clock: Callable[[], float]) -> int:
    start = clock()
    probe()
    return int((clock() - start) * 1000)


LIVENESS = "liveness"


def wants_liveness(event: Mapping[str, Any]) -> bool:
    """`GET /health?probe=liveness`, what the probes that decide failover ask. It runs the
    same checks as the traffic check (both accept a read-only member); the query names the
    question in their logs."""
    params = event.get("queryStringParameters") or {}
    return isinstance(params, Mapping) and params.get("probe") == LIVENESS


def database_probe(connector: Connector, roles: dict[str, str]) -> Callable[[], None]:
    """A fresh connection each time: a kept one could pass while new ones fail. The
    member's role (writer or reader) goes into `roles` for the answer's body."""

    def probe() -> None:
        conn = connector.connect()
        try:
            [[read_only]] = conn.run("SELECT pg_is_in_recovery()")
            roles["database"] = "reader" if read_only else "writer"
        finally:
            close_quietly(conn)

    return probe


def health(
    region: str, checks: list[Check], roles: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    healthy = all(c.ok for c in checks)
    body: dict[str, Any] = {
        "region": region,
        "status": "ok" if healthy else "unavailable",
        "checks": {c.name: c.public() for c in checks},
    }
    if roles and "database" in roles:
        body["database_role"] = roles["database"]  # for operators; routing ignores it
    return (200 if healthy else 503), body
