"""Lambda entry point that migrates the schema (handler `migrate_handler.handler`).

Invoked directly (RequestResponse) by the deployer once per rollout:
- `{"action": "status"}`: read-only, `{"status": "ok", "pending": [...], "applied": [...]}`;
- `{"action": "apply"}` (also an empty or absent event): applies the pending files and
  names the applied and already-applied ones.
A failure raises, so the invoke reports FunctionError and the rollout stops.
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
    action = migrate_logic.action_of(event)
    settings = migrate_settings(os.environ)
    migrations = migrate_logic.discover()
    conn = connector(settings.database, settings.region).connect()
    try:
        if action == "status":
            return {"status": "ok", **migrate_logic.status(conn, migrations)}
        report = migrate_logic.apply(conn, migrations)
    finally:
        close_quietly(conn)
    logger.info("schema migrated", extra=report.as_dict())
    return {"status": "ok", **report.as_dict()}
