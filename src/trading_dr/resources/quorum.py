"""Quorum: an automatic unplanned failover needs two vantage points to agree.

In each region, over the peer:
- `ObserverSeesPeerDownAlarm`: the observer (a third region, observer.py) saw the peer's
  liveness fail in every one of OBSERVER_DOWN_PERIODS high-resolution periods;
- `PeerDownQuorumAlarm` (composite): this region's own probe alarm (monitoring.py,
  `PeerUnhealthyAlarm`) AND the observer's. Only this one starts the failover workflow
  (failover/machine.py's EventBridge rule matches its ARN, and only in the secondary);
- `PeerDownOneVantageAlarm` (composite): exactly one of the two. A partition between the
  regions, or a probe path broken on one side, must not move the writer with data loss:
  it pages a human whose alarm text carries the exact command to run after checking.

Missing observer data is not evidence of an outage (notBreaching): if the observer stops,
automatic failover stops too, and a single vantage point pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Template
from troposphere.cloudwatch import Alarm, CompositeAlarm, MetricDimension

from trading_dr.resources.monitoring import MonitoringRefs
from trading_dr.resources.observer import (
    OBSERVED_METRIC,
    OBSERVER_NAMESPACE,
    OBSERVER_PERIOD_S,
    observer_dimensions,
)
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn

OBSERVER_DOWN_PERIODS = 3


@dataclass(frozen=True)
class QuorumRefs:
    quorum_alarm_arn: AWSHelperFn  # both vantage points agree: starts the workflow
    quorum_alarm_name: str
    one_vantage_alarm_name: str


def failover_command(ctx: StackContext) -> str:
    """What the on-call engineer runs once they have confirmed the peer is down."""
    return f"trading-dr failover --env {ctx.env.name} --to {ctx.role.value}"


def add_quorum(template: Template, ctx: StackContext, monitoring: MonitoringRefs) -> QuorumRefs:
    peer, observer = ctx.peer_region, ctx.env.failover.observer_region
    observed = _add_observed_alarm(template, ctx)
    own, seen = monitoring.peer_unhealthy_alarm_name, _observed_alarm_name(ctx)
    quorum_name = ctx.name("peer-down-quorum")
    quorum = template.add_resource(
        CompositeAlarm(
            "PeerDownQuorumAlarm",
            DependsOn=[observed.title, "PeerUnhealthyAlarm"],
            AlarmName=quorum_name,
            AlarmDescription=f"{peer} is down from {ctx.region} AND from the observer in "
            f"{observer}: the condition for an automatic unplanned failover to {ctx.region}",
            AlarmRule=f'ALARM("{own}") AND ALARM("{seen}")',
            ActionsEnabled=True,
            AlarmActions=[monitoring.topic_arn],
            OKActions=[monitoring.topic_arn],
        )
    )
    one_name = ctx.name("peer-down-one-vantage-point")
    template.add_resource(
        CompositeAlarm(
            "PeerDownOneVantageAlarm",
            DependsOn=[observed.title, "PeerUnhealthyAlarm"],
            AlarmName=one_name,
            AlarmDescription=f"Only one vantage point sees {peer} down (a partition or a "
            "probe problem?): no automatic failover. Check both regions; if the peer is "
            f"really down, run: {failover_command(ctx)}",
            AlarmRule=f'(ALARM("{own}") AND NOT ALARM("{seen}")) OR '
            f'(ALARM("{seen}") AND NOT ALARM("{own}"))',
            ActionsEnabled=True,
            AlarmActions=[monitoring.topic_arn],
            OKActions=[monitoring.topic_arn],
        )
    )
    return QuorumRefs(
        quorum_alarm_arn=GetAtt(quorum, "Arn"),
        quorum_alarm_name=quorum_name,
        one_vantage_alarm_name=one_name,
    )


def _observed_alarm_name(ctx: StackContext) -> str:
    return ctx.name("observer-sees-peer-down")


def _add_observed_alarm(template: Template, ctx: StackContext) -> Alarm:
    """The observer's view of the peer, in this region: input to the composites only."""
    peer, observer = ctx.peer_region, ctx.env.failover.observer_region
    seconds = OBSERVER_PERIOD_S * OBSERVER_DOWN_PERIODS
    return template.add_resource(
        Alarm(
            "ObserverSeesPeerDownAlarm",
            AlarmName=_observed_alarm_name(ctx),
            AlarmDescription=f"The observer in {observer} saw {peer}'s liveness fail for "
            f"{seconds} s",
            Namespace=OBSERVER_NAMESPACE,
            MetricName=OBSERVED_METRIC,
            Dimensions=[
                MetricDimension(Name=k, Value=v) for k, v in observer_dimensions(ctx, peer).items()
            ],
            Statistic="Maximum",
            Period=OBSERVER_PERIOD_S,
            EvaluationPeriods=OBSERVER_DOWN_PERIODS,
            DatapointsToAlarm=OBSERVER_DOWN_PERIODS,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="notBreaching",
            ActionsEnabled=False,  # the composites below speak for it
        )
    )
