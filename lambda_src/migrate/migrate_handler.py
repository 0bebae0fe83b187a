"""Lambda entry point that migrates the schema (handler `migrate_handler.handler`).

Invoked directly (RequestResponse) once per rollout by the deployer; the event is ignored.
The result names the applied and already-applied files; a failure raises, so the invoke
reports FunctionError and the rollout stops.
"""

from __future__ import annotations

import os
from typing import Any

import migrate_logic
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from trading_shared.db import close_quietly, connector
from trading_shared.settings import migrate_settings

logger = Logger(service="schema-migrate")


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = migrate_settings(os.environ)
    migrations = migrate_logic.discover()
    conn = connector(settings.database, settings.region).connect()
    try:
        report = migrate_logic.apply(conn, migrations)
    finally:
        close_quietly(conn)
    logger.info("schema migrated", extra=report.as_dict())
    return {"status": "ok", **report.as_dict()}
