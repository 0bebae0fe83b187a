"""The deployed validator function runs its real code in the local AWS.

moto runs no Lambda code without docker (`lambdas` answers invocations instead), but the
failover workflow decides on what the validator reports: readiness before a promotion,
`verify` after it. So an Invoke of a function whose handler is the validator's, with no
answer queued by a test, runs lambda_src/validator's logic in this process:

- with the function's own environment variables (what the template gave it) and
  AWS_REGION, as Lambda's runtime sets it,
- with clients of the function's account and region, calling this local AWS, so a region
  that is down (`faults.region_down`) refuses them as it refuses everyone;
- on a model of the network for its HTTP probes: the platform's API is not running here,
  so a `/health` URL of the function's configuration answers 200 while its region is up
  and nothing at all (status 0) while it is down, as a region that can accept trades
  would (lambda_src/health answers 200 in either database role).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from types import ModuleType
from typing import Any

from trading_dr.local_aws import faults
from trading_dr.local_aws.clients import client_in
from trading_dr.local_aws.drill_model import LAMBDA_SRC, load_lambda

VALIDATOR_HANDLER = "validator_handler.handler"
SERVICES = ("rds", "cloudwatch", "dynamodb", "s3", "route53", "ssm")


@cache
def _logic() -> ModuleType:
    return load_lambda("validator_logic", LAMBDA_SRC / "validator" / "validator_logic.py")


def network(region: str, environ: Mapping[str, str]) -> Callable[[str], int]:
    """GET `url` → HTTP status: the function's own /health URL belongs to its region,
    the peer's to PEER_REGION; any other URL is not part of the platform."""
    owners = {
        environ.get("SELF_HEALTH_URL", ""): region,
        environ.get("PEER_HEALTH_URL", ""): environ.get("PEER_REGION", ""),
    }

    def fetch(url: str) -> int:
        owner = owners.get(url)
        if not owner:
            return 0
        return 0 if faults.is_region_down(owner) or faults.is_region_down(region) else 200

    return fetch


def run(account: str, region: str, environ: Mapping[str, str], event: Mapping[str, Any]) -> Any:
    """What the validator's handler returns for `event` (its dispatch, over its logic)."""
    logic = _logic()
    settings = logic.Settings.from_environ(environ)
    clients = logic.Clients(**{s: client_in(s, account, region) for s in SERVICES})
    return logic.dispatch(clients, settings, event, network(region, environ))


def answer(account: str, region: str, function: Any, body: Any) -> str | None:
    """The validator's answer as JSON, or None for any other function."""
    if function.handler != VALIDATOR_HANDLER:
        return None
    event = json.loads(body or "{}")
    try:
        # Lambda's runtime adds its reserved variables to the function's own.
        environ = {**(function.environment_vars or {}), "AWS_REGION": region}
        result = run(account, region, environ, event)
    except Exception as exc:
        result = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    return json.dumps(result, default=str)
