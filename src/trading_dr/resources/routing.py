"""Route 53 failover for the API name: health checks, the fence, the failover record.

Each region adds, for its own record:
- an HTTPS health check on its regional name's `/health` (the regional name, not the
  failover name, so the check tests this region and not whichever DNS answers with);
- a CALCULATED check that is healthy only while every child is: the HTTPS check and, once
  the peer exists, the peer's fence check (stage parameter `PeerFenceHealthCheckId`);
- the failover alias record (PRIMARY or SECONDARY, decided by `stacks`).

And, for its peer's record, the fence. The fence itself is durable state here: the SSM
parameter `fence_parameter_name` that this region's failover workflow writes (`fenced` or
`released`). It becomes routing through a metric: the workflow publishes `PeerFenced` at
once, and the validator republishes the parameter's value every minute (readiness.py), in
the namespace `TradingDR/Fence` that only those two roles may write. An alarm here reads
the metric and an alarm-based Route 53 check follows it (output `FenceHealthCheckId`,
passed to the peer), failing the peer's calculated check; resolvers then get this
region's record. Route 53 reads the alarm's metric data stream, not its state (so
`SetAlarmState` could not move traffic and nothing calls it), and with missing data it
applies `InsufficientDataHealthStatus`: `LastKnownStatus`, so a fence holds when its
publisher stops. Every step is a data-plane call in the recovery region: no Route 53 API
call and nothing in the peer's region is needed.

Failing back is planned: the workflow here runs with mode `release` (parameter
`released`, metric 0), then the peer's workflow runs `planned`. In between, the peer's
own /health answers 503 while its database is still read-only, so traffic stays here
until the switchover makes the peer the writer (see failover/workflow.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, If, Ref, Sub, Tags, Template
from troposphere.cloudwatch import Alarm, MetricDimension
from troposphere.route53 import (
    AlarmIdentifier,
    HealthCheck,
    HealthCheckConfig,
    RecordSetType,
)

from trading_dr.resources.monitoring import FENCE_NAMESPACE, PEER_FENCED_METRIC
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.inputs import StageInputs
from trading_dr.resources.vocabulary.refs import ApiRefs, AWSHelperFn

FAILOVER_ROLES = ("PRIMARY", "SECONDARY")
# Resolvers may serve the old answer this long after the failover record flips.
FAILOVER_RECORD_TTL_S = 10
HEALTH_PATH = "/health"
# What probes deciding failover ask: is the region alive (a read-only member is), not is
# it the writer. Route 53's traffic check asks HEALTH_PATH (can it accept trades).
LIVENESS_PATH = "/health?probe=liveness"
# Route 53 reads alarm-based checks from standard-resolution metrics only.
FENCE_PERIOD_S = 60


@dataclass(frozen=True)
class RoutingRefs:
    health_check_id: AWSHelperFn  # HTTPS check of this region's /health
    region_health_check_id: AWSHelperFn  # calculated: HTTPS and not fenced by the peer
    fence_alarm_name: str  # this region's fence of its peer
    fence_alarm_arn: AWSHelperFn
    fence_health_check_id: AWSHelperFn  # the peer's record uses it


def _tags(ctx: StackContext, name: str) -> Tags:
    # Name first: the Route 53 console lists health checks by it.
    return Tags(Name=ctx.name(name)) + ctx.tags()


def fence_parameter_name(ctx: StackContext) -> str:
    """The SSM parameter holding the fence this region sets on its peer. The failover
    workflow writes it (never CloudFormation: a stack update must not reset a fence)."""
    return ctx.ssm_path("failover/fence")


def lock_parameter_name(ctx: StackContext) -> str:
    """The SSM parameter a running failover workflow holds so that runs never overlap."""
    return ctx.ssm_path("failover/lock")


def ssm_parameter_arn(name: str) -> Sub:
    return Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + name)


def fence_dimensions(ctx: StackContext) -> dict[str, str]:
    """The dimensions of the fence this region holds on its peer."""
    return {"Environment": ctx.env.suffix, "FencedRegion": ctx.peer_region}


def add_routing(
    template: Template,
    ctx: StackContext,
    api: ApiRefs,
    inputs: StageInputs,
    failover_role: str,
    topic_arn: AWSHelperFn,
) -> RoutingRefs:
    if failover_role not in FAILOVER_ROLES:
        raise ValueError(f"failover_role must be one of {FAILOVER_ROLES}, got {failover_role}")
    https = _add_api_health_check(template, ctx, api)
    fence_alarm, fence_check = _add_fence(template, ctx, topic_arn)
    region_check = _add_region_check(template, ctx, inputs, https)
    _add_failover_record(template, ctx, api, inputs, failover_role, region_check)
    return RoutingRefs(
        health_check_id=Ref(https),
        region_health_check_id=Ref(region_check),
        fence_alarm_name=_fence_alarm_name(ctx),
        fence_alarm_arn=GetAtt(fence_alarm, "Arn"),
        fence_health_check_id=Ref(fence_check),
    )


def _add_api_health_check(template: Template, ctx: StackContext, api: ApiRefs) -> HealthCheck:
    """HTTPS on this region's own /health, by its regional name."""
    settings = ctx.env.failover
    return template.add_resource(
        HealthCheck(
            "ApiHealthCheck",
            HealthCheckConfig=HealthCheckConfig(
                Type="HTTPS",
                FullyQualifiedDomainName=api.regional_domain,
                Port=443,
                ResourcePath=HEALTH_PATH,
                EnableSNI=True,
                RequestInterval=settings.health_check_interval_s,
                FailureThreshold=settings.health_check_failure_threshold,
            ),
            HealthCheckTags=_tags(ctx, f"api-health-{ctx.region}"),
        )
    )


def _fence_alarm_name(ctx: StackContext) -> str:
    return ctx.name("fence", ctx.peer_region)


def _add_fence(
    template: Template, ctx: StackContext, topic_arn: AWSHelperFn
) -> tuple[Alarm, HealthCheck]:
    """The alarm on the workflow's PeerFenced metric, and the health check reading it."""
    fence_alarm_name = _fence_alarm_name(ctx)
    fence_alarm = template.add_resource(
        Alarm(
            "FenceAlarm",
            AlarmName=fence_alarm_name,
            AlarmDescription=(
                f"ALARM = {ctx.peer_region} is fenced by the failover workflow in "
                f"{ctx.region}; Route 53 then stops answering with {ctx.peer_region}"
            ),
            Namespace=FENCE_NAMESPACE,
            MetricName=PEER_FENCED_METRIC,
            Dimensions=[MetricDimension(Name=k, Value=v) for k, v in fence_dimensions(ctx).items()],
            Statistic="Maximum",
            Period=FENCE_PERIOD_S,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            # For the alarm's own notifications only: Route 53 reads the metric's data
            # stream, not this state; the health check below says what missing data means.
            TreatMissingData="ignore",
            ActionsEnabled=True,
            AlarmActions=[topic_arn],
            OKActions=[topic_arn],
        )
    )
    fence_check = template.add_resource(
        HealthCheck(
            "FenceHealthCheck",
            # Route 53 copies the alarm's configuration when the check is created.
            DependsOn=[fence_alarm.title],
            HealthCheckConfig=HealthCheckConfig(
                Type="CLOUDWATCH_METRIC",
                AlarmIdentifier=AlarmIdentifier(Name=fence_alarm_name, Region=ctx.region),
                # The validator republishes the fence every minute; if it stops, the check
                # keeps its last status rather than unfencing (a new check starts healthy).
                InsufficientDataHealthStatus="LastKnownStatus",
            ),
            HealthCheckTags=_tags(ctx, f"fence-of-{ctx.peer_region}"),
        )
    )
    return fence_alarm, fence_check


def _add_region_check(
    template: Template, ctx: StackContext, inputs: StageInputs, https: HealthCheck
) -> HealthCheck:
    """Healthy = serving AND not fenced by the peer (where the peer can fence)."""
    fenced = inputs.fenced_by_peer_condition
    peer_fence = inputs.peer_fence_health_check_id
    return template.add_resource(
        HealthCheck(
            "RegionHealthCheck",
            HealthCheckConfig=HealthCheckConfig(
                Type="CALCULATED",
                ChildHealthChecks=If(fenced, [Ref(https), peer_fence], [Ref(https)]),
                # Every child must be healthy: serving AND not fenced by the peer.
                HealthThreshold=If(fenced, 2, 1),
            ),
            HealthCheckTags=_tags(ctx, f"region-{ctx.region}"),
        )
    )


def _add_failover_record(
    template: Template,
    ctx: StackContext,
    api: ApiRefs,
    inputs: StageInputs,
    failover_role: str,
    region_check: HealthCheck,
) -> None:
    template.add_resource(
        RecordSetType(
            "ApiFailoverRecord",
            HostedZoneId=inputs.hosted_zone_id,
            Name=f"{api.failover_domain}.",
            # A CNAME rather than an alias: an alias takes the target's 60 s TTL, which
            # alone would spend the whole 60 s RTO; a CNAME's TTL is ours to set.
            Type="CNAME",
            TTL=str(FAILOVER_RECORD_TTL_S),
            SetIdentifier=ctx.region,
            Failover=failover_role,
            HealthCheckId=Ref(region_check),
            ResourceRecords=[api.failover_target_dns],
        )
    )
