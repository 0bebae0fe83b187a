"""Aurora's replication-lag metric for the global clusters in the local AWS.

Aurora publishes `AuroraGlobalDBReplicationLag` (AWS/RDS, milliseconds, per
DBClusterIdentifier) for each secondary member of a global database, every minute (Aurora
User Guide, "Monitoring Aurora global databases"). The validator refuses a planned
switchover without a recent value, and an unplanned failover when the last one exceeds
the RPO target, so the local AWS publishes it too: `faults.replication_lag_ms()` for
every secondary member, once a minute (`Publisher`) and as soon as a member joins. Nothing
replicates while the writer's region or the member's region is down, so nothing is
published for it then: the last value before the outage stays the last known lag.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.rds.models import rds_backends

from trading_dr.local_aws import faults
from trading_dr.local_aws.aurora_global import global_backend

PERIOD_S = 60.0


def _region_of(cluster_arn: str) -> str:
    return cluster_arn.split(":")[3]


def publish(account: str, at: datetime | None = None) -> list[tuple[str, float]]:
    """Publish one datapoint per replicating secondary of `account`; (cluster ARN, lag ms)."""
    # moto stamps and compares metric timestamps as naive UTC.
    when = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    lag = faults.replication_lag_ms()
    published: list[tuple[str, float]] = []
    for glob in list(global_backend(account).global_clusters.values()):
        members: list[Any] = list(glob.members)
        writer = next((m for m in members if m.is_writer), None)
        if writer is None or faults.is_region_down(_region_of(writer.db_cluster_arn)):
            continue
        for member in members:
            region = _region_of(member.db_cluster_arn)
            if member is writer or faults.is_region_down(region):
                continue
            # Into the backend, as RDS itself: AWS refuses PutMetricData into AWS/ names.
            cloudwatch_backends[account][region].put_metric_data(
                "AWS/RDS",
                [
                    {
                        "MetricName": "AuroraGlobalDBReplicationLag",
                        "Dimensions": [
                            {"Name": "DBClusterIdentifier", "Value": member.db_cluster_identifier}
                        ],
                        "Timestamp": when,
                        "Value": lag,
                        "Unit": "Milliseconds",
                    }
                ],
            )
            published.append((member.db_cluster_arn, lag))
    return published


def publish_once(account: str) -> None:
    """A datapoint now for each replicating secondary of `account` (after a change of
    writer or membership, as Aurora starts reporting for a new secondary)."""
    publish(account)


def publish_everywhere() -> None:
    for account in list(rds_backends.keys()):
        publish(account)


class Publisher:
    """Publishes every `period_s` until stopped (a daemon thread of the local AWS)."""

    def __init__(self, period_s: float = PERIOD_S) -> None:
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replication-lag", daemon=True)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            publish_everywhere()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
