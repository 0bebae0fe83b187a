"""Lambda entry point (handler `validator_handler.handler`): dispatch on the event's action.

Events: the hourly schedule `{"action": "readiness", "scope": "full"}`, the per-minute
schedule `{"action": "probe"}` (which also republishes the fence), and the failover
workflow's `{"action": "readiness", "scope": "recovery", "mode": ..., "accept_data_loss":
...}` and `{"action": "verify"}`. Returns a JSON report.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from validator_logic import Clients, Settings, dispatch

logger = logging.getLogger()
logger.setLevel(logging.INFO)
# Route 53 allows a checker 4 s to connect and 2 s to answer; a probe gets no more.
HTTP_TIMEOUT_S = 3.0
_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
_clients: Clients | None = None


def fetch(url: str) -> int:
    """HTTP status of a GET, 0 when there is no answer at all."""
    request = urllib.request.Request(url, headers={"User-Agent": "trading-dr-validator"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, TimeoutError, OSError):
        return 0


def clients() -> Clients:
    global _clients  # noqa: PLW0603 - Lambda's documented way to reuse clients
    if _clients is None:

        def make(service: str) -> Any:
            return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]

        _clients = Clients(
            rds=make("rds"),
            cloudwatch=make("cloudwatch"),
            dynamodb=make("dynamodb"),
            s3=make("s3"),
            route53=make("route53"),
            ssm=make("ssm"),
        )
    return _clients


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    settings = Settings.from_environ(os.environ)  # a missing variable fails first
    result = dispatch(clients(), settings, event, fetch)
    logger.info(json.dumps(result))
    return result
