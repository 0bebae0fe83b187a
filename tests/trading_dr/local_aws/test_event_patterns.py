"""EventBridge matching of CloudWatch's alarm state-change event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from trading_dr.local_aws.event_patterns import (
    UnsupportedPatternError,
    alarm_arn,
    alarm_state_change,
    matches,
)

ARN = alarm_arn("123456789012", "us-east-2", "quorum")
EVENT = alarm_state_change(
    account="123456789012",
    region="us-east-2",
    alarm_name="quorum",
    state="ALARM",
    previous="OK",
    reason="r",
    at=datetime(2026, 1, 5, tzinfo=UTC),
)
RULE = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "resources": [ARN],
    "detail": {"state": {"value": ["ALARM"]}},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (RULE, True),
        ({**RULE, "resources": [alarm_arn("123456789012", "us-east-2", "other")]}, False),
        ({**RULE, "detail": {"state": {"value": ["OK"]}}}, False),
        ({**RULE, "detail": {"previousState": {"value": ["OK", "INSUFFICIENT_DATA"]}}}, True),
        ({"source": ["aws.ec2"]}, False),
        ({"nothing-like-this": ["x"]}, False),
    ],
)
def test_pattern_matching(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_content_filters_are_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedPatternError):
        matches({"detail": {"alarmName": [{"prefix": "q"}]}}, EVENT)
