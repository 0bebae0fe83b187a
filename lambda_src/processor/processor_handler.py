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
    RecordResult,
    TradeStore,
    audit_body,
    audit_key,
    process_batch,
    records_from_event,
)
from trading_shared.audit import AuditObject, put_audit_object
from trading_shared.aws import client, send_trades
from trading_shared.db import READ_ONLY_TRANSACTION, ConnectionCache, connector, sqlstate
from trading_shared.settings import ProcessorSettings, processor_settings

logger = Logger(service="trade-processor")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TradingDR"))


@dataclass(frozen=True)
class Runtime:
    settings: ProcessorSettings
    s3: Any
    sqs: Any
    store: TradeStore


# Kept while the execution environment is warm: the database connection above all.
_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - Lambda's documented way to reuse connections
    if _runtime is None:
        settings = processor_settings(os.environ)
        connections = ConnectionCache(connector(settings.database, settings.region).connect)
        _runtime = Runtime(
            settings, client("s3"), client("sqs"), TradeStore(connections, settings.region)
        )
    return _runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    region, batch_id = rt.settings.region, context.aws_request_id
    processed_at = datetime.now(UTC)
    key = audit_key(rt.settings.audit_prefix, region, processed_at, batch_id)

    def audit(results: list[RecordResult]) -> AuditObject:
        return AuditObject(key, audit_body(results, region=region, batch_id=batch_id,
                                           processed_at=processed_at))  # fmt: skip

    records = records_from_event(event)
    batch = process_batch(records, rt.store, audit)
    if not batch.journaled:
        if sqlstate(batch.store_error or Exception()) == READ_ONLY_TRANSACTION:
            logger.info("read-only member of the global cluster: the writer region stores")
        else:
            logger.exception("batch not stored", exc_info=batch.store_error)
        # The database holds nothing of this batch, so its audit goes straight to S3. If
        # that raises too, the whole batch is redelivered, and nothing was stored.
        put_audit_object(rt.s3, rt.settings.audit_bucket, batch.audit)

    # Deferred trades go back as new messages (their receive count starts again, so a
    # region that is not the writer never fills the DLQ); any SQS refused is redelivered.
    bodies = {r.message_id: r.body for r in records}
    deferred = {d.message_id: d.trade_id or "" for d in batch.deferred()}
    unsent = send_trades(
        rt.sqs, rt.settings.queue_url,
        [(trade_id, bodies[mid]) for mid, trade_id in deferred.items()],
        delay_s=rt.settings.defer_delay_s,
    ) if deferred else {}  # fmt: skip
    resend_failed = [mid for mid, trade_id in deferred.items() if trade_id in unsent]

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
    if deferred:
        metrics.add_metric(name="TradesDeferredNotSent", unit=MetricUnit.Count,
                           value=len(resend_failed))  # fmt: skip
    return batch.response(resend_failed)
