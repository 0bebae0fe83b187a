"""Lambda entry point for POST /trades (handler `intake_handler.handler`)."""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from intake_logic import handle_order
from trading_shared.api import raw_body, response
from trading_shared.aws import client, get_session, send_trade
from trading_shared.journal import record_trade
from trading_shared.settings import IntakeSettings, intake_settings

SERVICE = "trade-intake"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TradingDR"))

# Built on the first invocation and kept while the execution environment is warm.
_runtime: tuple[IntakeSettings, Any, Any] | None = None


def runtime() -> tuple[IntakeSettings, Any, Any]:
    global _runtime  # noqa: PLW0603 - Lambda's documented way to reuse clients
    if _runtime is None:
        settings = intake_settings(os.environ)
        # API Gateway gives up after 29 s; fail fast enough to answer 503 before that.
        aws = partial(client, region=settings.region, timeout_s=3.0, attempts=2)
        _runtime = (settings, aws("dynamodb"), aws("sqs"))
    return _runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, dynamodb, sqs = runtime()
    now = time.time()
    result = handle_order(
        raw_body(event),
        max_body_bytes=settings.max_body_bytes,
        lookup_session=partial(get_session, dynamodb, settings.sessions_table),
        journal=partial(record_trade, dynamodb, settings.journal_table, now=now,
                        region=settings.region, ttl_days=settings.journal_ttl_days),
        enqueue=partial(send_trade, sqs, settings.queue_url),
        now=now,
    )  # fmt: skip
    metrics.add_metric(name=f"Orders{result.outcome}", unit=MetricUnit.Count, value=1)
    log = logger.warning if result.status >= 500 else logger.info
    log("order " + result.outcome.lower(), status=result.status, trade_id=result.trade_id,
        detail=result.detail)  # fmt: skip
    return response(result.status, result.body)
