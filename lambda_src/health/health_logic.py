"""GET /health: can this region serve? Each dependency checked in parallel with a deadline.

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
    """`GET /health?probe=liveness`: is this region alive, whatever its role? The probes
    that decide failover ask this, so a healthy read-only member never looks down."""
    params = event.get("queryStringParameters") or {}
    return isinstance(params, Mapping) and params.get("probe") == LIVENESS


def database_probe(connector: Connector, *, require_writer: bool = True) -> Callable[[], None]:
    """A fresh connection each time: a kept one could pass while new ones fail."""

    def probe() -> None:
        conn = connector.connect()
        try:
            # Through the global writer endpoint this is the writer; a read-only answer
            # means a failover is under way and writes would fail. Liveness only needs
            # the database to answer.
            [[read_only]] = conn.run("SELECT pg_is_in_recovery()")
            if read_only and require_writer:
                raise ReadOnlyDatabaseError("the database answered read-only")
        finally:
            close_quietly(conn)

    return probe


class ReadOnlyDatabaseError(RuntimeError):
    pass


def health(region: str, checks: list[Check]) -> tuple[int, dict[str, Any]]:
    healthy = all(c.ok for c in checks)
    body = {
        "region": region,
        "status": "ok" if healthy else "unavailable",
        "checks": {c.name: c.public() for c in checks},
    }
    return (200 if healthy else 503), body
