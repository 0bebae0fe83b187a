"""The validator function (lambda_src/validator) and the schedules that run it.

One function, three actions, chosen by the event:
- `readiness` (hourly, and the failover workflow's first step): global cluster members
  and status, replication lag, sessions replica ACTIVE, bucket replication configured and
  enabled, health check status, SSM parameters consistent; a metric per check and
  `FailoverReadiness`;
- `probe` (every minute): republish the fence this region holds (its SSM parameter, written
  by the failover workflow) as `PeerFenced` in `TradingDR/Fence`, then GET the peer's
  regional `/health?probe=liveness` every PROBE_INTERVAL_S seconds for the minute and
  publish `PeerHealthy` at high resolution here (see monitoring.py for why the
  peer-unhealthy signal must be produced in this region). Liveness, not role: a healthy
  read-only member answers 200 there, so a switchover never looks like an outage;
- `verify` (the workflow's last step): does this region's own /health answer 200?
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import cloudwatch, dynamodb, rds, route53, s3, ssm
from awacs.aws import Statement, StringEquals
from troposphere import If, Sub, Template

from trading_dr.policies import all_of, allow, unscoped
from trading_dr.resources.functions import Artifacts, FunctionSpec, add_function, add_schedule
from trading_dr.resources.monitoring import FENCE_NAMESPACE, NAMESPACE, PROBE_INTERVAL_S
from trading_dr.resources.routing import LIVENESS_PATH, fence_parameter_name, ssm_parameter_arn
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.inputs import StageInputs
from trading_dr.resources.vocabulary.refs import (
    AWSHelperFn,
    DatabaseRefs,
    FunctionRefs,
    KeyRefs,
    NetworkRefs,
)

VALIDATOR_TIMEOUT_S = 60
# Six samples 10 s apart fill the minute between two scheduled runs: the probe alarm wants
# 3 consecutive failed periods and takes a missing one as not breaching, so a gap in each
# minute would restart its count (5 samples: detection 81 s instead of 40 s on the local
# AWS). The last sample starts 50 s in and waits at most its 3 s timeout.
PROBE_SAMPLES = 6
HEALTH_CHECK_ID_PARAMETER = "health-check-id"
DB_ENDPOINT_PARAMETER = "db-endpoint"


@dataclass(frozen=True)
class ValidatorInputs:
    """What the validator checks, from the other builders."""

    global_cluster_id: AWSHelperFn
    db: DatabaseRefs
    sessions_table: AWSHelperFn
    config_bucket: AWSHelperFn
    config_bucket_arn: AWSHelperFn
    audit_bucket: AWSHelperFn
    audit_bucket_arn: AWSHelperFn
    health_check_id: AWSHelperFn


def _ssm_arn(ctx: StackContext) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + ctx.ssm_path("*")
    )


def add_validator(
    template: Template,
    ctx: StackContext,
    network: NetworkRefs,
    keys: KeyRefs,
    artifacts: Artifacts,
    inputs: StageInputs,
    checked: ValidatorInputs,
) -> FunctionRefs:
    spec = FunctionSpec(
        name="validator",
        handler="validator_handler.handler",
        description="Failover readiness (hourly), peer /health probe (every minute), verify",
        memory_mb=256,
        timeout_s=VALIDATOR_TIMEOUT_S,
        # A probe each minute, the hourly check and the workflow's two calls.
        reserved_concurrency=4,
        # Outside the VPC: it calls Route 53, RDS and the peer region's public /health,
        # none of which the private subnets can reach, and it reads no private data.
        in_vpc=False,
        environment=_validator_environment(ctx, inputs, checked),
        statements=_validator_statements(ctx, checked),
    )
    validator = add_function(template, ctx, spec, network, keys, artifacts)
    for logical, schedule, payload, what in (
        ("ValidatorHourlyRule", "rate(1 hour)", '{"action": "readiness", "scope": "full"}',
         "hourly failover readiness check"),
        ("PeerProbeRule", "rate(1 minute)", '{"action": "probe"}',
         f"probe {ctx.peer_region}'s /health from {ctx.region}"),
    ):  # fmt: skip
        add_schedule(template, ctx, logical, schedule, ("validator", validator), payload, what)
    return validator


def _validator_environment(
    ctx: StackContext, inputs: StageInputs, checked: ValidatorInputs
) -> dict[str, AWSHelperFn | str]:
    """What the validator checks and where it publishes (read by its settings)."""
    return {
        "ENVIRONMENT": ctx.env.suffix,
        "PEER_REGION": ctx.peer_region,
        "GLOBAL_CLUSTER_ID": checked.global_cluster_id,
        "DB_CLUSTER_ARN": checked.db.cluster_arn,
        "DB_CLUSTER_ID": checked.db.cluster_id,
        "SESSIONS_TABLE_NAME": checked.sessions_table,
        "REPLICATED_BUCKETS": Sub(
            "${Config},${Audit}", Config=checked.config_bucket, Audit=checked.audit_bucket
        ),
        # Before the link stage a region has no replication rule, and that is expected.
        "REPLICATION_EXPECTED": If(inputs.replicate_condition, "true", "false"),
        "HEALTH_CHECK_ID": checked.health_check_id,
        "SELF_HEALTH_URL": f"https://{ctx.regional_domain}/health",
        "PEER_HEALTH_URL": f"https://{_peer_domain(ctx)}{LIVENESS_PATH}",
        "SSM_PREFIX": ctx.ssm_path(""),
        "MAX_REPLICATION_LAG_S": str(ctx.env.failover.replication_lag_alarm_s),
        "METRIC_NAMESPACE": NAMESPACE,
        "PROBE_INTERVAL_S": str(PROBE_INTERVAL_S),
        "PROBE_SAMPLES": str(PROBE_SAMPLES),
        "FENCE_PARAMETER": fence_parameter_name(ctx),
        "FENCE_NAMESPACE": FENCE_NAMESPACE,
        "RPO_TARGET_S": str(ctx.env.failover.rpo_target_s),
    }


def _validator_statements(ctx: StackContext, checked: ValidatorInputs) -> list[Statement]:
    global_cluster_arn = Sub(
        "arn:${AWS::Partition}:rds::${AWS::AccountId}:global-cluster:${Id}",
        Id=checked.global_cluster_id,
    )
    table_arn = Sub(
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}",
        Table=checked.sessions_table,
    )
    return [
        allow("ReadGlobalCluster", (rds.DescribeGlobalClusters,), [global_cluster_arn]),
        allow("ReadOwnCluster", (rds.DescribeDBClusters,), [checked.db.cluster_arn]),
        allow("ReadSessionsReplica", (dynamodb.DescribeTable,), [table_arn]),
        allow(
            "ReadBucketReplication",
            (s3.GetReplicationConfiguration, s3.GetBucketVersioning),
            [checked.config_bucket_arn, checked.audit_bucket_arn],
        ),
        allow(
            "ReadHealthCheckStatus",
            (route53.GetHealthCheckStatus,),
            [
                Sub(
                    "arn:${AWS::Partition}:route53:::healthcheck/${Id}",
                    Id=checked.health_check_id,
                )
            ],
        ),
        allow("ReadOwnParameters", (ssm.GetParametersByPath,), [
            _ssm_arn(ctx),
            Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
                + ctx.ssm_path("").rstrip("/")),
        ]),
        unscoped("ReadReplicationLag", (cloudwatch.GetMetricData,)),
        unscoped(
            "PublishReadinessMetrics",
            (cloudwatch.PutMetricData,),
            all_of(StringEquals("cloudwatch:namespace", NAMESPACE)),
        ),
        # The validator is the fence's per-minute publisher: it reads the parameter
        # the workflow writes and may write the fence namespace, nothing else may.
        allow("ReadFence", (ssm.GetParameter,),
              [ssm_parameter_arn(fence_parameter_name(ctx))]),
        unscoped(
            "RepublishFence",
            (cloudwatch.PutMetricData,),
            all_of(StringEquals("cloudwatch:namespace", FENCE_NAMESPACE)),
        ),
    ]  # fmt: skip


def _peer_domain(ctx: StackContext) -> str:
    return f"{ctx.peer_region}.api.{ctx.env.domain}"
