"""The observer's probe: what it publishes, where, and that one region down does not stop
the other region's datapoints. Real moto CloudWatch in both regions; HTTP is scripted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import observer_probe
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

PRIMARY, SECONDARY = "us-east-1", "us-east-2"
TARGETS = {
    PRIMARY: f"https://{PRIMARY}.api.example.com/health?probe=liveness",
    SECONDARY: f"https://{SECONDARY}.api.example.com/health?probe=liveness",
}
ENV = {
    "TARGETS": json.dumps(TARGETS),
    "PERIOD_S": "10",
    "SAMPLES": "3",
    "NAMESPACE": "TradingDR/Observer",
    "ENVIRONMENT": "prod",
    "AWS_REGION": "us-west-2",
}


@pytest.fixture
def clouds(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield {r: boto3.client("cloudwatch", region_name=r) for r in (PRIMARY, SECONDARY)}


def _seen(cloudwatch: Any, region: str) -> list[float]:
    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="TradingDR/Observer",
        MetricName="RegionAlive",
        Dimensions=[
            {"Name": "Environment", "Value": "prod"},
            {"Name": "Region", "Value": region},
            {"Name": "Observer", "Value": "us-west-2"},
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )
    (point,) = stats["Datapoints"]
    return [point["Minimum"], point["Maximum"], point["SampleCount"]]


def test_both_regions_views_land_in_both_clouds(clouds: dict[str, Any]) -> None:
    statuses = {TARGETS[PRIMARY]: 0, TARGETS[SECONDARY]: 200}
    sleeps: list[float] = []
    ticks = iter(range(100))
    result = observer_probe.run(
        ENV,
        {r: c.put_metric_data for r, c in clouds.items()},
        get=statuses.__getitem__,
        sleep=sleeps.append,
        clock=lambda: float(next(ticks)),
    )
    assert [s["statuses"] for s in result["samples"]] == [{PRIMARY: 0, SECONDARY: 200}] * 3
    # Each region's CloudWatch holds the observer's view of BOTH regions.
    for cloud in clouds.values():
        assert _seen(cloud, PRIMARY) == [0.0, 0.0, 3.0]
        assert _seen(cloud, SECONDARY) == [1.0, 1.0, 3.0]
    # Samples stay on the PERIOD_S grid, whatever each sample took.
    assert sleeps == [9.0, 18.0]


def test_a_region_refusing_puts_does_not_stop_the_other(clouds: dict[str, Any]) -> None:
    def down(**kwargs: Any) -> None:
        raise ConnectionError("us-east-1 is down")

    publishers = {PRIMARY: down, SECONDARY: clouds[SECONDARY].put_metric_data}
    statuses, failed = observer_probe.sample(
        TARGETS, publishers, "TradingDR/Observer", "prod", "us-west-2", get=lambda url: 0
    )
    assert failed == ["us-east-1: ConnectionError"]
    assert statuses == {PRIMARY: 0, SECONDARY: 0}
    assert _seen(clouds[SECONDARY], PRIMARY) == [0.0, 0.0, 1.0]


@given(st.dictionaries(st.sampled_from([PRIMARY, SECONDARY]), st.integers(0, 599)))
def test_alive_only_on_http_200(statuses: dict[str, int]) -> None:
    data = observer_probe.datapoints("prod", "us-west-2", statuses)
    assert len(data) == len(statuses)
    for datum in data:
        region = next(d["Value"] for d in datum["Dimensions"] if d["Name"] == "Region")
        assert datum["Value"] == (1.0 if statuses[region] == 200 else 0.0)
        assert datum["StorageResolution"] == 1  # the alarms read 10 s periods
