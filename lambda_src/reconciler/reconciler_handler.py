"""Lambda entry point of the journal reconciler (handler `reconciler_handler.handler`).

EventBridge invokes it once a minute (its finest schedule); each invocation makes a pass
every PASS_INTERVAL_SECONDS until the next one is due, so the gap between passes never
exceeds the interval. Each pass publishes replayed / unreconciled / oldest-unreconciled-age
(the RPO alarm reads the last one) with dimensions service and Environment, exactly.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from reconciler_logic import Calls, PassReport, reconcile_pass
from trading_shared.aws import client, send_trades
from trading_shared.db import Connection, ConnectionCache, connector, read_only
from trading_shared.journal import Entry, clear_pending, query_pending
from trading_shared.settings import ReconcilerSettings, reconciler_settings

SERVICE = "trade-reconciler"
OLDEST_AGE_METRIC = "JournalOldestUnreconciledAgeSeconds"
SCHEDULE_PERIOD_S = 60  # the EventBridge rule's rate
# A pass is started only with this much of the function's time left.
MARGIN_MS = 20_000
QUERY_THREADS = 8
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TradingDR"), service=SERVICE
)


@dataclass(frozen=True)
class Runtime:
    settings: ReconcilerSettings
    dynamodb: Any
    sqs: Any
    connections: ConnectionCache
    pool: ThreadPoolExecutor


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - Lambda's documented way to reuse connections
    if _runtime is None:
        settings = reconciler_settings(os.environ)
        connections = ConnectionCache(connector(settings.database, settings.region).connect)
        aws = partial(client, region=settings.region, timeout_s=5.0, attempts=3)
        _runtime = Runtime(
            settings, aws("dynamodb"), aws("sqs"), connections,
            ThreadPoolExecutor(max_workers=QUERY_THREADS),
        )  # fmt: skip
        metrics.set_default_dimensions(Environment=settings.environment)
    return _runtime


def stored_ids(conn: Connection, trade_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(trade_ids), 1000):
        rows = conn.run(
            "SELECT trade_id FROM trades WHERE trade_id = ANY(:ids)",
            ids=[UUID(t) for t in trade_ids[start : start + 1000]],
        )
        found |= {str(row[0]) for row in rows}
    return found


def calls(rt: Runtime) -> Calls:
    table, queue = rt.settings.journal_table, rt.settings.queue_url

    def replay(entries: list[Entry]) -> dict[str, str]:
        return send_trades(rt.sqs, queue, [(e.trade_id, e.body) for e in entries])

    return Calls(
        query=partial(query_pending, rt.dynamodb, table),
        stored=lambda ids: rt.connections.run(lambda conn: stored_ids(conn, ids)),
        replay=replay,
        clear=partial(clear_pending, rt.dynamodb, table),
    )


def one_pass(rt: Runtime) -> PassReport:
    writer = not rt.connections.run(read_only)
    report = reconcile_pass(
        calls(rt), now_ms=int(time.time() * 1000), grace_s=rt.settings.grace_s,
        lookback_minutes=rt.settings.lookback_minutes, writer=writer, pool=rt.pool,
    )  # fmt: skip
    metrics.add_metric(name="JournalReplayed", unit=MetricUnit.Count, value=report.replayed)
    metrics.add_metric(name="JournalUnreconciled", unit=MetricUnit.Count,
                       value=report.unreconciled)  # fmt: skip
    metrics.add_metric(name=OLDEST_AGE_METRIC, unit=MetricUnit.Seconds,
                       value=report.oldest_age_s)  # fmt: skip
    metrics.flush_metrics()
    log = logger.warning if report.failed else logger.info
    log("journal reconciled", extra=report.as_dict())
    return report


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    started = time.monotonic()
    interval = rt.settings.pass_interval_s
    reports = []
    for index in range(math.ceil(SCHEDULE_PERIOD_S / interval)):
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if context.get_remaining_time_in_millis() < MARGIN_MS:
            break
        reports.append(one_pass(rt).as_dict())
    if any(r["failed"] for r in reports):
        # Shown in the function's error rate too; the entries stay pending for the next pass.
        raise RuntimeError("some journal entries could not be queued again; see the log")
    return {"passes": reports}
