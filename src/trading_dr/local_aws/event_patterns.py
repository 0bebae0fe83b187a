"""EventBridge: CloudWatch's alarm state-change event and event-pattern matching.

The event is the one CloudWatch sends for every alarm state change ("Alarm events and
EventBridge", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html;
EventBridge reference, https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudwatch.html):
source `aws.cloudwatch`, detail-type `CloudWatch Alarm State Change`, the alarm's ARN in
`resources`, `detail.state.value` / `detail.previousState.value`.

Matching follows EventBridge's event patterns
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html): every
field of the pattern must be in the event; a list of values matches when the event's
value (or any element of the event's list) equals one of them; objects match field by
field. Content filters (prefix, numeric, exists, ...) are refused rather than guessed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

DETAIL_TYPE = "CloudWatch Alarm State Change"


class UnsupportedPatternError(ValueError):
    pass


def alarm_state_change(
    *,
    account: str,
    region: str,
    alarm_name: str,
    state: str,
    previous: str,
    reason: str,
    at: datetime,
) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.cloudwatch",
        "account": account,
        "time": stamp,
        "region": region,
        "resources": [alarm_arn(account, region, alarm_name)],
        "detail": {
            "alarmName": alarm_name,
            "state": {"value": state, "reason": reason, "timestamp": stamp},
            "previousState": {"value": previous},
        },
    }


def alarm_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    for key, wanted in pattern.items():
        if key not in event:
            return False
        actual = event[key]
        if isinstance(wanted, Mapping):
            if not isinstance(actual, Mapping) or not matches(wanted, actual):
                return False
        elif isinstance(wanted, list):
            if any(isinstance(w, Mapping) for w in wanted):
                raise UnsupportedPatternError(f"content filters are not emulated: {wanted}")
            values = actual if isinstance(actual, list) else [actual]
            if not any(v in wanted for v in values):
                return False
        else:
            raise UnsupportedPatternError(f"pattern values must be lists or objects: {key}")
    return True
