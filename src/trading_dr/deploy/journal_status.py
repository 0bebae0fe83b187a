"""Per region, the accepted trades its journal holds that Aurora does not yet: what the
reconciler there last published (JournalUnreconciled, JournalOldestUnreconciledAgeSeconds).

Each region is asked through its own CloudWatch endpoint, in each target account, so the
view works while the other region is down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.retry import call

NAMESPACE = "TradingDR"
SERVICE = "trade-reconciler"  # the reconciler's metric dimensions: service, Environment
UNRECONCILED = "JournalUnreconciled"
OLDEST_AGE = "JournalOldestUnreconciledAgeSeconds"
# The reconciler publishes every pass (at least once a minute): a window of a few minutes
# holds its last figures, and nothing in it means it has not run.
WINDOW = timedelta(minutes=5)
PERIOD_S = 60


def journal_backlog(
    dep: Deployment, regions: tuple[str, ...] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per account and region (both regions unless `regions` says which)."""
    end = now or datetime.now(UTC)
    rows = []
    for account in dep.env.accounts:
        for region in regions or (dep.env.primary.region, dep.env.secondary.region):
            cloudwatch = dep.clients.client("cloudwatch", region, account)
            unreconciled = _latest(dep, cloudwatch, UNRECONCILED, end)
            oldest = _latest(dep, cloudwatch, OLDEST_AGE, end)
            rows.append(
                {
                    "account": account,
                    "region": region,
                    "unreconciled": None if unreconciled is None else int(unreconciled),
                    "oldest_age_s": oldest,
                }
            )
    return rows


def _latest(dep: Deployment, cloudwatch: Any, metric: str, end: datetime) -> float | None:
    points = call(
        dep.pacing,
        cloudwatch.get_metric_statistics,
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[
            {"Name": "service", "Value": SERVICE},
            {"Name": "Environment", "Value": dep.env.suffix},
        ],
        StartTime=end - WINDOW,
        # One period past now: EndTime is exclusive ("results include data points up to the
        # specified time stamp", CloudWatch API Reference, GetMetricStatistics) and moto
        # truncates it to whole seconds, so a figure published this second would be missed.
        EndTime=end + timedelta(seconds=PERIOD_S),
        Period=PERIOD_S,
        Statistics=["Maximum"],
    ).get("Datapoints", [])
    if not points:
        return None
    value: float = max(points, key=lambda p: p["Timestamp"])["Maximum"]
    return value


def describe(row: dict[str, Any]) -> str:
    if row["unreconciled"] is None:
        return "no reconciler figures in the last 5 min (not deployed, or not running)"
    return (
        f"{row['unreconciled']} accepted trade(s) not yet stored, oldest "
        f"{row['oldest_age_s'] or 0:g} s"
    )
