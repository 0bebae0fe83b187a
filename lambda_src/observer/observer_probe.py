"""Observer (third region): probe both regions' liveness, publish into both CloudWatches.

Inline code (the template embeds this file as index.py): standard library and boto3 only.
Every PERIOD_S for SAMPLES samples, GET each TARGETS URL concurrently and put
`RegionAlive` (1/0, high resolution) for every probed region into the CloudWatch of every
probed region, so each region's alarms read the observer's view. A region that is down
also rejects our puts there: each put is independent and short, so the other still lands.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Put = Callable[..., Any]

TIMEOUT_S = 3.0


def fetch(url: str) -> int:
    """HTTP status of a GET, 0 when nothing answers."""
    request = urllib.request.Request(url, headers={"User-Agent": "trading-dr-observer"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, TimeoutError, OSError):
        return 0


def datapoints(environment: str, observer: str, statuses: Mapping[str, int]) -> list[Any]:
    """One RegionAlive datum per probed region: 1 only for an HTTP 200."""
    return [
        {
            "MetricName": "RegionAlive",
            "Dimensions": [
                {"Name": "Environment", "Value": environment},
                {"Name": "Region", "Value": region},
                {"Name": "Observer", "Value": observer},
            ],
            "Value": 1.0 if status == 200 else 0.0,
            "Unit": "Count",
            "StorageResolution": 1,
        }
        for region, status in sorted(statuses.items())
    ]


def sample(
    targets: Mapping[str, str],
    publishers: Mapping[str, Put],
    namespace: str,
    environment: str,
    observer: str,
    get: Callable[[str], int] = fetch,
) -> tuple[dict[str, int], list[str]]:
    """Probe every target, publish to every region; returns statuses and failed puts."""
    with ThreadPoolExecutor(max_workers=2 * len(targets)) as pool:
        statuses = dict(zip(targets, pool.map(get, targets.values()), strict=True))
        data = datapoints(environment, observer, statuses)

        def put(region: str) -> str | None:
            try:
                publishers[region](Namespace=namespace, MetricData=data)
                return None
            except Exception as exc:  # the region may be the one that is down
                return f"{region}: {type(exc).__name__}"

        failed = [f for f in pool.map(put, sorted(publishers)) if f]
    return statuses, failed


def run(
    env: Mapping[str, str],
    publishers: Mapping[str, Put],
    get: Callable[[str], int] = fetch,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    targets: dict[str, str] = json.loads(env["TARGETS"])
    period, samples = float(env["PERIOD_S"]), int(env["SAMPLES"])
    start, results = clock(), []
    for i in range(samples):
        if i:
            sleep(max(0.0, start + i * period - clock()))
        statuses, failed = sample(
            targets, publishers, env["NAMESPACE"], env["ENVIRONMENT"], env["AWS_REGION"], get
        )
        results.append({"statuses": statuses, "failed_puts": failed})
    return {"action": "observe", "samples": results}


def handler(event: object, context: object) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})
    regions: dict[str, str] = json.loads(os.environ["TARGETS"])
    publishers: dict[str, Put] = {
        r: boto3.client("cloudwatch", region_name=r, config=config).put_metric_data for r in regions
    }
    result = run(os.environ, publishers)
    print(json.dumps(result))
    return result
