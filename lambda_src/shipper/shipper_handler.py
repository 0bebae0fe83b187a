"""Lambda entry point that ships the audit outbox to S3 (handler `shipper_handler.handler`).

Scheduled every minute (EventBridge). Publishes how many objects it shipped, how many wait
and how long the oldest has waited (alarmed); raises when a put failed, so the failure
shows in the function's error rate too (its alarm), after the run has shipped everything
else. The objects that failed stay in the outbox, their age alarmed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from shipper_logic import State, ship
from trading_shared.audit import put_audit_object
from trading_shared.aws import client
from trading_shared.db import ConnectionCache, connector
from trading_shared.settings import ShipperSettings, shipper_settings

# The metrics' dimensions are service and Environment, exactly: the outbox alarm
# (trading_dr.monitoring) names both, so neither may depend on the environment variables.
SERVICE = "audit-shipper"
OUTBOX_AGE_METRIC = "AuditOutboxOldestAgeSeconds"
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TradingDR"), service=SERVICE
)

# Stop starting rounds this long before the function's timeout: a round is one page of
# parallel puts (a few seconds at worst with S3's timeouts) and its DELETE.
MARGIN_MS = 15_000
PUT_THREADS = 8


class ShipError(RuntimeError):
    pass


@dataclass(frozen=True)
class Runtime:
    settings: ShipperSettings
    s3: Any
    connections: ConnectionCache
    pool: ThreadPoolExecutor


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - Lambda's documented way to reuse connections
    if _runtime is None:
        settings = shipper_settings(os.environ)
        connections = ConnectionCache(connector(settings.database, settings.region).connect)
        pool = ThreadPoolExecutor(max_workers=PUT_THREADS)
        _runtime = Runtime(settings, client("s3"), connections, pool)
    return _runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    put = partial(put_audit_object, rt.s3, rt.settings.audit_bucket)
    report = rt.connections.run(
        lambda conn: ship(
            conn, put, batch_size=rt.settings.batch_size, pool=rt.pool,
            time_left=lambda: context.get_remaining_time_in_millis() > MARGIN_MS,
        )
    )  # fmt: skip
    if report.state is State.READ_ONLY:
        # No metrics: the table here is a replica of the writer's, which reports it.
        logger.info("read-only member of the global cluster: the writer region ships")
        return report.as_dict()
    metrics.add_dimension(name="Environment", value=rt.settings.environment)
    metrics.add_metric(name="AuditObjectsShipped", unit=MetricUnit.Count,
                       value=len(report.shipped))  # fmt: skip
    metrics.add_metric(name="AuditObjectsFailed", unit=MetricUnit.Count, value=len(report.failed))
    metrics.add_metric(name="AuditOutboxWaiting", unit=MetricUnit.Count, value=report.waiting)
    metrics.add_metric(name=OUTBOX_AGE_METRIC, unit=MetricUnit.Seconds,
                       value=report.oldest_age_s)  # fmt: skip
    for key, reason in report.failed.items():
        logger.error("audit object not shipped; it stays in the outbox", key=key, reason=reason)
    if report.failed:
        raise ShipError(f"{len(report.failed)} audit object(s) not shipped; they stay queued")
    logger.info("audit outbox shipped", extra=report.as_dict())
    return report.as_dict()
