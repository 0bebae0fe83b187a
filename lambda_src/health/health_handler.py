"""Lambda entry point for GET /health (handler `health_handler.handler`): 200 when this
region can accept trades (the database answers, as writer or reader; the trade queue, the
sessions table and the journal are reachable), else 503. `?probe=liveness` runs the same checks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from health_logic import database_probe, health, run_checks, wants_liveness
from trading_shared.api import response
from trading_shared.aws import client, probe_queue, probe_table
from trading_shared.db import Connector, connector
from trading_shared.settings import HealthSettings, health_settings

logger = Logger(service="health")


@dataclass(frozen=True)
class Runtime:
    settings: HealthSettings
    connector: Connector
    sqs: Any
    dynamodb: Any


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - Lambda's documented way to reuse clients
    if _runtime is None:
        settings = health_settings(os.environ)
        # One attempt each: a retry would overrun Route 53's deadline anyway.
        aws = partial(client, region=settings.region, timeout_s=settings.timeout_s, attempts=1)
        db = connector(settings.database, settings.region, timeout_s=settings.timeout_s, attempts=1)
        _runtime = Runtime(settings, db, aws("sqs"), aws("dynamodb"))
    return _runtime


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    s = rt.settings
    roles: dict[str, str] = {}
    checks = run_checks(
        {
            "database": database_probe(rt.connector, roles),
            "queue": partial(probe_queue, rt.sqs, s.queue_url),
            "sessions": partial(probe_table, rt.dynamodb, s.sessions_table),
            "journal": partial(probe_table, rt.dynamodb, s.journal_table),
        },
        timeout_s=s.timeout_s,
    )
    status, body = health(s.region, checks, roles)
    failed = {c.name: f"{c.error}: {c.detail}" for c in checks if not c.ok}
    (logger.warning if failed else logger.debug)(
        "health", status=status, failed=failed, liveness_probe=wants_liveness(event)
    )
    return response(status, body)
