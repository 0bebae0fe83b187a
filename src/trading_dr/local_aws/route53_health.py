"""Route 53 health checks and failover answers, computed as Route 53 documents them.

How Route 53 determines whether a health check is healthy
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html):

- an endpoint check (HTTPS) changes status after `FailureThreshold` consecutive failed
  (or, back, successful) requests, one every `RequestInterval` seconds; a 2xx or 3xx
  answer within the time limit is a success. One checker here (Route 53 has many, and
  counts the endpoint healthy when more than 18 % of them see it so);
- a calculated check is healthy while at least `HealthThreshold` children are;
- a check that monitors a CloudWatch alarm "monitors the data stream for the corresponding
  alarm instead of monitoring the alarm state" (so SetAlarmState cannot change it): here
  the alarm's own condition is applied to its metric's datapoints (alarm_eval.py), never
  to a state someone set; with no data in the evaluation range the check takes
  `InsufficientDataHealthStatus` (Healthy, Unhealthy, or LastKnownStatus: the last status
  from sufficient data, healthy for a new check; HealthCheckConfig reference,
  https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/route53/aws.sdk.kotlin.services.route53.model/-health-check-config/insufficient-data-health-status.html).

Failover routing (active-passive,
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html):
Route 53 answers with the primary record while its health check is healthy, else with the
secondary while that one is; when no record of the group is healthy Route 53 answers as if
all were (so the primary).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from trading_dr.local_aws.alarm_eval import ALARM, INSUFFICIENT_DATA, MetricAlarm, evaluate

INSUFFICIENT_DATA_STATUSES = ("Healthy", "Unhealthy", "LastKnownStatus")


@dataclass
class EndpointCheck:
    check_id: str
    fqdn: str
    path: str
    interval_s: int
    failure_threshold: int
    healthy: bool = True  # a new check starts healthy
    _streak: int = 0  # consecutive results disagreeing with the current status

    def observe(self, status: int) -> bool:
        """One checker request's HTTP status (0: no answer); returns the new status."""
        success = 200 <= status < 400
        if success == self.healthy:
            self._streak = 0
        else:
            self._streak += 1
            if self._streak >= self.failure_threshold:
                self.healthy, self._streak = success, 0
        return self.healthy


@dataclass
class AlarmCheck:
    check_id: str
    alarm: MetricAlarm
    alarm_region: str
    insufficient_data: str
    healthy: bool = True
    last_known: bool | None = None

    def __post_init__(self) -> None:
        if self.insufficient_data not in INSUFFICIENT_DATA_STATUSES:
            raise ValueError(f"InsufficientDataHealthStatus {self.insufficient_data!r}")

    def observe(self, values: Sequence[float | None]) -> bool:
        """The alarm's condition applied to its data stream (not to its state)."""
        # Route 53 reads the data, not the alarm's TreatMissingData: no data at all is
        # "insufficient data", whatever the alarm itself would do with it.
        state, _ = evaluate(_without_missing_treatment(self.alarm), values, INSUFFICIENT_DATA)
        if state == INSUFFICIENT_DATA:
            if self.insufficient_data == "Healthy":
                self.healthy = True
            elif self.insufficient_data == "Unhealthy":
                self.healthy = False
            else:
                self.healthy = True if self.last_known is None else self.last_known
        else:
            self.healthy = state != ALARM
            self.last_known = self.healthy
        return self.healthy


def _without_missing_treatment(alarm: MetricAlarm) -> MetricAlarm:
    from dataclasses import replace

    return replace(alarm, treat_missing="missing")


@dataclass
class CalculatedCheck:
    check_id: str
    children: tuple[str, ...]
    threshold: int
    healthy: bool = True

    def observe(self, statuses: Mapping[str, bool]) -> bool:
        missing = [c for c in self.children if c not in statuses]
        if missing:
            raise KeyError(f"calculated check {self.check_id}: unknown children {missing}")
        self.healthy = sum(1 for c in self.children if statuses[c]) >= self.threshold
        return self.healthy


@dataclass(frozen=True)
class FailoverRecord:
    name: str
    set_identifier: str
    failover: str  # PRIMARY or SECONDARY
    health_check_id: str
    value: str


@dataclass
class FailoverAnswer:
    record: FailoverRecord
    reason: str
    at: datetime | None = field(default=None, compare=False)


def failover_answer(
    records: Sequence[FailoverRecord], healthy: Mapping[str, bool]
) -> FailoverAnswer:
    """Which record Route 53 answers with for a failover pair."""
    by_role = {r.failover: r for r in records}
    if set(by_role) != {"PRIMARY", "SECONDARY"} or len(records) != 2:
        raise ValueError(f"a failover group needs one PRIMARY and one SECONDARY: {records}")
    primary, secondary = by_role["PRIMARY"], by_role["SECONDARY"]
    if healthy[primary.health_check_id]:
        return FailoverAnswer(primary, "primary healthy")
    if healthy[secondary.health_check_id]:
        return FailoverAnswer(secondary, "primary unhealthy, secondary healthy")
    return FailoverAnswer(primary, "both unhealthy: Route 53 answers as if both were healthy")


def reported(healthy: bool, *, inverted: bool = False, disabled: bool = False) -> bool:
    """The status Route 53 routes on: a disabled check counts as healthy, and `Inverted`
    flips the status (both per HealthCheckConfig, Disabled and Inverted,
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html, and
    "Inverting health checks",
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-invert.html)."""
    status = True if disabled else healthy
    return not status if inverted else status
