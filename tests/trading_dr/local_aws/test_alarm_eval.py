"""CloudWatch alarm evaluation from datapoints: M of N, statistics, missing data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trading_dr.local_aws.alarm_eval import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    MetricAlarm,
    UnsupportedAlarmError,
    evaluate,
)

NOW = datetime(2026, 1, 5, 12, 1, 0, tzinfo=UTC)


def _alarm(**overrides: Any) -> MetricAlarm:
    props: dict[str, Any] = {
        "AlarmName": "a",
        "Namespace": "N",
        "MetricName": "M",
        "Dimensions": [{"Name": "Region", "Value": "r"}],
        "Statistic": "Maximum",
        "Period": 10,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "notBreaching",
    } | overrides
    return MetricAlarm.from_properties(props)


@pytest.mark.parametrize(
    ("values", "treat", "m", "current", "expected"),
    [
        ([0.0, 0.0, 0.0], "notBreaching", 3, OK, ALARM),
        ([1.0, 0.0, 0.0], "notBreaching", 3, OK, OK),
        ([1.0, 0.0, 0.0], "notBreaching", 2, OK, ALARM),
        ([None, 0.0, 0.0], "notBreaching", 3, OK, OK),
        ([None, 0.0, 0.0], "breaching", 3, OK, ALARM),
        ([None, None, None], "notBreaching", 3, ALARM, OK),
        ([None, None, None], "breaching", 3, OK, ALARM),
        ([None, None, None], "missing", 3, OK, INSUFFICIENT_DATA),
        ([None, None, None], "ignore", 3, ALARM, ALARM),
        ([None, None, None], "ignore", 3, OK, OK),
        ([None, 0.0, 0.0], "ignore", 2, OK, ALARM),
        ([None, 0.0, 0.0], "missing", 3, OK, OK),
    ],
)
def test_m_of_n_and_missing_data(
    values: list[float | None], treat: str, m: int, current: str, expected: str
) -> None:
    alarm = _alarm(TreatMissingData=treat, DatapointsToAlarm=m)
    assert evaluate(alarm, values, current)[0] == expected


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [("Maximum", 3.0), ("Minimum", 1.0), ("Average", 2.0), ("Sum", 6.0), ("SampleCount", 3.0)],
)
def test_period_values_apply_the_statistic_per_period(statistic: str, expected: float) -> None:
    alarm = _alarm(Statistic=statistic)
    # Three datapoints in the last whole period [11:00:50, 11:01:00), none in the others.
    points = [(NOW - timedelta(seconds=s), float(v)) for s, v in ((9, 1), (5, 2), (1, 3))]
    assert alarm.period_values(points, NOW) == [None, None, expected]


def test_the_evaluation_range_ends_at_the_last_whole_period() -> None:
    alarm = _alarm()
    now = NOW + timedelta(seconds=7)
    start, end = alarm.window(now)
    assert (start, end) == (NOW - timedelta(seconds=30), NOW)
    # A datapoint in the period still open is not evaluated yet.
    assert alarm.period_values([(NOW + timedelta(seconds=1), 0.0)], now) == [None] * 3


@pytest.mark.parametrize(
    "overrides",
    [
        {"MetricName": None, "Metrics": []},
        {"Statistic": "p99"},
        {"ComparisonOperator": "LessThanLowerThreshold"},
        {"TreatMissingData": "sometimes"},
    ],
    ids=["metric-math", "percentile", "anomaly-band", "unknown-treatment"],
)
def test_shapes_the_drill_does_not_evaluate_are_refused(overrides: dict[str, Any]) -> None:
    props = {k: v for k, v in overrides.items() if v is not None}
    if overrides.get("MetricName", "") is None:
        with pytest.raises(UnsupportedAlarmError):
            MetricAlarm.from_properties({"AlarmName": "a", **props})
        return
    with pytest.raises(UnsupportedAlarmError):
        _alarm(**props)
