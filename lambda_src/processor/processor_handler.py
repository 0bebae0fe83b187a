"""Lambda entry point for the trade queue (handler `processor_handler.handler`).

The event source mapping must enable ReportBatchItemFailures: the response lists only
the records to redeliver. Powertools' BatchProcessor handles records one at a time; the
batch is stored by one multi-row INSERT instead, and the response keeps its format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from processor_logic import (
    TradeStore,
    audit_body,
    audit_key,
    process_batch,
    records_from_event,
    write_audit,
)
from trading_shared.aws import client
from trading_shared.db import ConnectionCache, connector
from trading_shared.settings import ProcessorSettings, processor_settings

logger = Logger(service="trade-processor")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TradingDR"))


@dataclass(frozen=True)
class Runtime:
    settings: ProcessorSettings
    s3: Any
    store: TradeStore


# Kept while the execution environment is warm: the database connection above all.
_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - Lambda's documented way to reuse connections
    if _runtime is None:
        settings = processor_settings(os.environ)
        connections = ConnectionCache(connector(settings.database, settings.region).connect)
        _runtime = Runtime(settings, client("s3"), TradeStore(connections, settings.region))
    return _runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    records = records_from_event(event)
    batch = process_batch(records, rt.store.save)
    if batch.store_error is not None:
        logger.exception("batch not stored", exc_info=batch.store_error)

    processed_at = datetime.now(UTC)
    region, batch_id = rt.settings.region, context.aws_request_id
    body = audit_body(batch.results, region=region, batch_id=batch_id, processed_at=processed_at)
    # If this raises the whole batch is redelivered: stored rows become already_stored.
    key = audit_key(rt.settings.audit_prefix, region, processed_at, batch_id)
    write_audit(rt.s3, rt.settings.audit_bucket, key, body)

    receive_counts = {r.message_id: r.receive_count for r in records}
    for result in batch.results:
        if result.failed:
            # The DLQ keeps the message, not the reason: this line (and the audit) does.
            logger.warning("record not processed", message_id=result.message_id,
                           trade_id=result.trade_id, outcome=result.outcome.value,
                           reason=result.reason,
                           receive_count=receive_counts[result.message_id])  # fmt: skip
    for outcome, count in batch.counts().items():
        metrics.add_metric(name=f"Trades_{outcome.value}", unit=MetricUnit.Count, value=count)
    return batch.response()
