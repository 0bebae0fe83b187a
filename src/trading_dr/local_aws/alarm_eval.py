"""CloudWatch metric alarms evaluated from metric data, as CloudWatch does.

A `MetricAlarm` is built from an `AWS::CloudWatch::Alarm`'s properties as rendered (with
intrinsics already resolved, see intrinsics.py). `evaluate` applies the documented rule
(Amazon CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html,
and the PutMetricAlarm TreatMissingData reference,
https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudwatch/aws.sdk.kotlin.services.cloudwatch.model/-put-metric-alarm-request/treat-missing-data.html):

- the evaluation range is the `EvaluationPeriods` most recent whole periods; each period's
  value is the alarm's statistic over the datapoints stamped inside it;
- the alarm is ALARM when at least `DatapointsToAlarm` (M) of those N are breaching;
- missing periods: `notBreaching` counts them as good, `breaching` as bad, `missing`
  (the default) does not count them and goes INSUFFICIENT_DATA when all N are missing,
  `ignore` keeps the current state when all N are missing.

Not emulated: CloudWatch's look-back beyond N periods when datapoints are missing, and
`AWS/DynamoDB` alarms always ignoring missing data. The templates' failover path uses
notBreaching/ignore alarms, for which neither changes the outcome.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
STATES = (ALARM, OK, INSUFFICIENT_DATA)
TREATMENTS = ("breaching", "notBreaching", "ignore", "missing")

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "Maximum": max,
    "Minimum": min,
    "Average": statistics.fmean,
    "Sum": math.fsum,
    "SampleCount": lambda values: float(len(values)),
}


class UnsupportedAlarmError(ValueError):
    """An alarm shape the drill does not evaluate (metric math, anomaly bands, ...)."""


@dataclass(frozen=True)
class MetricAlarm:
    name: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str = "missing"

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> MetricAlarm:
        if "MetricName" not in props or "Metrics" in props:
            raise UnsupportedAlarmError(
                f"{props.get('AlarmName')}: only single-metric alarms are evaluated"
            )
        statistic = str(props.get("Statistic", ""))
        comparison = str(props["ComparisonOperator"])
        treat = str(props.get("TreatMissingData", "missing"))
        if statistic not in STATISTICS:
            raise UnsupportedAlarmError(f"{props['AlarmName']}: statistic {statistic!r}")
        if comparison not in COMPARISONS:
            raise UnsupportedAlarmError(f"{props['AlarmName']}: comparison {comparison!r}")
        if treat not in TREATMENTS:
            raise UnsupportedAlarmError(f"{props['AlarmName']}: TreatMissingData {treat!r}")
        periods = int(props["EvaluationPeriods"])
        return cls(
            name=str(props["AlarmName"]),
            namespace=str(props["Namespace"]),
            metric=str(props["MetricName"]),
            dimensions=tuple(
                sorted((str(d["Name"]), str(d["Value"])) for d in props.get("Dimensions", []))
            ),
            statistic=statistic,
            period_s=int(props["Period"]),
            evaluation_periods=periods,
            datapoints_to_alarm=int(props.get("DatapointsToAlarm", periods)),
            threshold=float(props["Threshold"]),
            comparison=comparison,
            treat_missing=treat,
        )

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """[start, end) of the evaluation range: N whole periods ending at the last
        period boundary at or before `now`."""
        epoch = now.timestamp()
        end_s = epoch - (epoch % self.period_s)
        end = now - timedelta(seconds=epoch - end_s)
        return end - timedelta(seconds=self.period_s * self.evaluation_periods), end

    def period_values(
        self, datapoints: Iterable[tuple[datetime, float]], now: datetime
    ) -> list[float | None]:
        """The statistic of each period of the evaluation range, oldest first (None:
        no datapoint in that period)."""
        start, end = self.window(now)
        buckets: list[list[float]] = [[] for _ in range(self.evaluation_periods)]
        for at, value in datapoints:
            if start <= at < end:
                index = int((at - start).total_seconds() // self.period_s)
                buckets[index].append(value)
        return [STATISTICS[self.statistic](b) if b else None for b in buckets]

    def breaching(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)


def matching_datapoints(
    alarm: MetricAlarm, metric_data: Iterable[Any]
) -> list[tuple[datetime, float]]:
    """(timestamp, value) of each datum of moto's CloudWatch `metric_data` that is the
    alarm's metric (namespace, name and exactly its dimensions). Statistic sets have no
    single value and are left out: nothing on the failover path publishes them."""
    found = []
    for datum in metric_data:
        if datum.namespace != alarm.namespace or datum.name != alarm.metric:
            continue
        dims = tuple(sorted((d.name, d.value) for d in datum.dimensions))
        if dims == alarm.dimensions and hasattr(datum, "value"):
            at = datum.timestamp
            if isinstance(at, str):
                at = datetime.fromisoformat(at.replace("Z", "+00:00"))
            found.append((at if at.tzinfo else at.replace(tzinfo=UTC), float(datum.value)))
    return found


def evaluate(alarm: MetricAlarm, values: Sequence[float | None], current: str) -> tuple[str, str]:
    """(new state, reason) from one evaluation range's period values."""
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    bad = sum(1 for v in present if alarm.breaching(v))
    if not present:
        if alarm.treat_missing == "missing":
            return INSUFFICIENT_DATA, f"no datapoints in the last {len(values)} period(s)"
        if alarm.treat_missing == "ignore":
            return current, "no datapoints: state kept (TreatMissingData ignore)"
    if alarm.treat_missing == "breaching":
        bad += missing
    described = ", ".join("-" if v is None else f"{v:g}" for v in values)
    reason = (
        f"{bad} of the last {len(values)} period(s) breaching "
        f"({alarm.comparison} {alarm.threshold:g}; datapoints: [{described}]; "
        f"{alarm.datapoints_to_alarm} needed)"
    )
    return (ALARM if bad >= alarm.datapoints_to_alarm else OK), reason
