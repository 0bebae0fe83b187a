"""The deployed observer function runs its real code in the local AWS.

The observer (third region) probes both regions' `/health` and publishes `RegionAlive`
into both regions' CloudWatch; the automatic failover's quorum reads it. Like the
validator (`validator_runtime`), an Invoke of the observer with no answer queued runs
lambda_src/observer's code here, with the function's environment, CloudWatch clients of
its account in each probed region (a region that is down refuses them, as it refuses
everyone: the other put still lands), and the same network model: a probed region's URL
answers 200 while that region and the observer's are up, nothing otherwise.
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

OBSERVER_HANDLER = "index.handler"


@cache
def _probe() -> ModuleType:
    return load_lambda("observer_probe", LAMBDA_SRC / "observer" / "observer_probe.py")


def is_observer(function: Any) -> bool:
    environ = function.environment_vars or {}
    return bool(function.handler == OBSERVER_HANDLER and "TARGETS" in environ)


def network(observer: str, targets: Mapping[str, str]) -> Callable[[str], int]:
    owners = {url: region for region, url in targets.items()}

    def fetch(url: str) -> int:
        region = owners.get(url)
        if region is None or faults.is_region_down(region) or faults.is_region_down(observer):
            return 0
        return 200

    return fetch


def run(account: str, region: str, environ: Mapping[str, str]) -> Any:
    targets: dict[str, str] = json.loads(environ["TARGETS"])
    publishers = {r: client_in("cloudwatch", account, r).put_metric_data for r in targets}
    return _probe().run(environ, publishers, network(region, targets))


def answer(account: str, region: str, function: Any, body: Any) -> str | None:
    """The observer's answer as JSON, or None for any other function."""
    if not is_observer(function):
        return None
    environ = {**(function.environment_vars or {}), "AWS_REGION": region}
    try:
        result = run(account, region, environ)
    except Exception as exc:  # a handler's exception is its answer in Lambda
        result = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    return json.dumps(result, default=str)
