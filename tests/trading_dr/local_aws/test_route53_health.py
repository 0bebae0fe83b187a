"""Route 53 health checks from data, and the failover answer."""

from __future__ import annotations

import pytest

from trading_dr.local_aws.alarm_eval import MetricAlarm
from trading_dr.local_aws.route53_health import (
    AlarmCheck,
    CalculatedCheck,
    EndpointCheck,
    FailoverRecord,
    failover_answer,
    reported,
)

FENCE = MetricAlarm.from_properties(
    {
        "AlarmName": "fence",
        "Namespace": "TradingDR/Fence",
        "MetricName": "PeerFenced",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        # The alarm would keep its state on missing data; Route 53 reads the data stream
        # and applies InsufficientDataHealthStatus instead.
        "TreatMissingData": "ignore",
    }
)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([503, 503], True),  # below the threshold of 3
        ([503, 503, 503], False),
        ([0, 0, 0, 200, 200], False),
        ([0, 0, 0, 200, 200, 301], True),  # 3xx is a success
        ([503, 200, 503, 200, 503], True),  # not consecutive
    ],
)
def test_endpoint_check_needs_consecutive_results(statuses: list[int], expected: bool) -> None:
    check = EndpointCheck("c", "example.com", "/health", 10, 3)
    for status in statuses:
        check.observe(status)
    assert check.healthy is expected


@pytest.mark.parametrize(
    ("setting", "stream", "expected"),
    [
        ("LastKnownStatus", [[None]], True),  # a new check starts healthy
        ("LastKnownStatus", [[1.0], [None], [None]], False),  # the fence holds
        ("LastKnownStatus", [[1.0], [0.0], [None]], True),
        ("Healthy", [[1.0], [None]], True),  # the old fence that reverted
        ("Unhealthy", [[0.0], [None]], False),
        ("Healthy", [[1.0]], False),
    ],
)
def test_alarm_check_reads_the_data_stream(
    setting: str, stream: list[list[float | None]], expected: bool
) -> None:
    check = AlarmCheck("fence", FENCE, "us-east-2", setting)
    for values in stream:
        check.observe(values)
    assert check.healthy is expected


def test_alarm_check_refuses_an_unknown_setting() -> None:
    with pytest.raises(ValueError, match="InsufficientDataHealthStatus"):
        AlarmCheck("fence", FENCE, "us-east-2", "Maybe")


@pytest.mark.parametrize(
    ("children", "threshold", "expected"),
    [((True, True), 2, True), ((True, False), 2, False), ((True, False), 1, True)],
)
def test_calculated_check(children: tuple[bool, bool], threshold: int, expected: bool) -> None:
    check = CalculatedCheck("calc", ("a", "b"), threshold)
    assert check.observe(dict(zip(("a", "b"), children, strict=True))) is expected


RECORDS = [
    FailoverRecord("api.", "us-east-1", "PRIMARY", "p", "p.example"),
    FailoverRecord("api.", "us-east-2", "SECONDARY", "s", "s.example"),
]


@pytest.mark.parametrize(
    ("primary", "secondary", "answer"),
    [
        (True, True, "us-east-1"),
        (True, False, "us-east-1"),
        (False, True, "us-east-2"),
        (False, False, "us-east-1"),  # none healthy: answered as if all were
    ],
)
def test_failover_answer(primary: bool, secondary: bool, answer: str) -> None:
    got = failover_answer(RECORDS, {"p": primary, "s": secondary})
    assert got.record.set_identifier == answer


def test_a_failover_group_needs_both_roles() -> None:
    with pytest.raises(ValueError, match="PRIMARY and one SECONDARY"):
        failover_answer([RECORDS[0], RECORDS[0]], {"p": True})


@pytest.mark.parametrize(
    ("healthy", "inverted", "disabled", "routed"),
    [
        (True, False, False, True),
        (False, False, False, False),
        (True, True, False, False),
        (False, True, False, True),
        (False, False, True, True),  # a disabled check counts as healthy
        (False, True, True, False),  # ... and Inverted still flips it
    ],
)
def test_inverted_and_disabled(healthy: bool, inverted: bool, disabled: bool, routed: bool) -> None:
    assert reported(healthy, inverted=inverted, disabled=disabled) is routed
