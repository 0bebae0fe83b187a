"""Aurora's replication-lag metric in the local AWS: who reports, and when nothing does."""

from __future__ import annotations

import time

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from tests.trading_dr.local_aws.test_aurora_global import global_database
from trading_dr.local_aws import faults, replication_lag
from trading_dr.local_aws.server import LocalAws

__all__ = ["global_database"]
ACCOUNT = "333333333333"
SECONDARY = f"arn:aws:rds:us-east-2:{ACCOUNT}:cluster:db-us-east-2"


def lag_points(region: str) -> list[float]:
    return [
        float(getattr(d, "value", 0.0))
        for d in cloudwatch_backends[ACCOUNT][region].metric_data
        if d.name == "AuroraGlobalDBReplicationLag"
    ]


def test_only_the_secondary_reports_with_the_configured_lag(global_database: LocalAws) -> None:
    faults.set_replication_lag_ms(250)
    assert replication_lag.publish(ACCOUNT) == [(SECONDARY, 250)]
    assert lag_points("us-east-1") == []
    assert 250 in lag_points("us-east-2")


@pytest.mark.parametrize("down", ["us-east-1", "us-east-2"], ids=["writer-down", "member-down"])
def test_nothing_replicates_while_either_region_is_down(
    global_database: LocalAws, down: str
) -> None:
    faults.region_down(down)
    assert replication_lag.publish(ACCOUNT) == []


def test_the_publisher_publishes_every_period(global_database: LocalAws) -> None:
    before = len(lag_points("us-east-2"))
    publisher = replication_lag.Publisher(period_s=0.01).start()
    try:
        for _ in range(200):
            if len(lag_points("us-east-2")) >= before + 2:
                break
            time.sleep(0.01)
    finally:
        publisher.stop()
    assert len(lag_points("us-east-2")) >= before + 2
