"""Alarms of one region and the encrypted SNS topic they (and the failover workflow) notify.

Every alarm watches a metric in this region's CloudWatch, because alarms cannot read
another region's metrics. That decides two designs:

- Aurora's `AuroraGlobalDBReplicationLag` is emitted where a *secondary* member runs. The
  lag alarm exists in both regions on the local member: it is silent (no data, not
  breaching) while the member is the writer and speaks up as soon as it is a secondary,
  including in us-east-1 after a failover.
- "Is the primary down?" cannot come from Route 53: its health-check metrics exist only in
  us-east-1's CloudWatch, which is what fails in the event we care about. Each region
  therefore probes its peer itself: the validator function, scheduled every minute, GETs
  the peer's regional `/health` every `PROBE_INTERVAL_S` seconds and publishes
  `PeerHealthy` (high resolution) here. The peer-unhealthy alarm reads it with 10 s
  periods, so it detects in about the same time as the Route 53 check. Only the
  secondary's alarm starts the failover workflow (the EventBridge rule, see failover/machine.py);
  the primary's only notifies, because failing back is a planned decision.
  A single vantage point can mistake a network partition for an outage; the workflow's
  readiness step and the Aurora promotion (which needs this region healthy) limit what
  such a false alarm can do, and the alarm needs every datapoint of its window to fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from awacs import kms, sns
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.cloudwatch import Alarm, MetricDataQuery, MetricDimension, MetricStat
from troposphere.cloudwatch import Metric as CwMetric

from trading_dr.policies import allow
from trading_dr.resources.alarm_topic import add_alarm_topic
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn, FunctionRefs, QueueRefs

# Metrics the platform publishes itself (validator, failover workflow).
NAMESPACE = "TradingDR"
PEER_HEALTHY_METRIC = "PeerHealthy"
PEER_FENCED_METRIC = "PeerFenced"
# The fence metric has a namespace of its own: only the failover workflow's role and the
# validator (its per-minute publisher) may put data into it (IAM cloudwatch:namespace).
FENCE_NAMESPACE = "TradingDR/Fence"
# The probe samples the peer this often; the alarm period matches it (high resolution).
PROBE_INTERVAL_S = 10
PEER_UNHEALTHY_PERIODS = 3
LAMBDA_ERROR_RATE_PCT = 1
API_P99_MS = 500
API_5XX_RATE = 0.01  # 5XXError's Average is the fraction of requests answered 5xx
# The audit shipper (lambda_src/shipper) runs every minute and publishes how long the
# oldest audit object has waited in the database outbox; its dimensions are exactly these.
AUDIT_SHIPPER_SERVICE = "audit-shipper"
AUDIT_OUTBOX_AGE_METRIC = "AuditOutboxOldestAgeSeconds"
AUDIT_OUTBOX_MAX_AGE_S = 600


@dataclass(frozen=True)
class MonitoringRefs:
    topic_arn: AWSHelperFn
    topic_key_arn: AWSHelperFn
    # Starts the failover workflow in the secondary (EventBridge matches its ARN).
    peer_unhealthy_alarm_arn: AWSHelperFn
    peer_unhealthy_alarm_name: str


def env_dimension(ctx: StackContext) -> dict[str, str]:
    return {"Name": "Environment", "Value": ctx.env.suffix}


def _dimensions(**values: AWSHelperFn | str) -> list[MetricDimension]:
    return [MetricDimension(Name=name, Value=value) for name, value in values.items()]


def _alarm(
    template: Template,
    ctx: StackContext,
    logical: str,
    name: str,
    description: str,
    topic_arn: AWSHelperFn,
    **props: object,
) -> Alarm:
    return template.add_resource(
        Alarm(
            logical,
            AlarmName=ctx.name(name),
            AlarmDescription=description,
            ActionsEnabled=True,
            AlarmActions=[topic_arn],
            OKActions=[topic_arn],
            **props,
        )
    )


def _error_rate(function: FunctionRefs) -> list[MetricDataQuery]:
    """Errors / Invocations in percent; 0 when idle so quiet periods are not alarms."""

    def stat(query_id: str, metric: str) -> MetricDataQuery:
        return MetricDataQuery(
            Id=query_id,
            ReturnData=False,
            MetricStat=MetricStat(
                Metric=CwMetric(
                    Namespace="AWS/Lambda",
                    MetricName=metric,
                    Dimensions=_dimensions(FunctionName=function.name),
                ),
                Period=60,
                Stat="Sum",
            ),
        )

    return [
        stat("errors", "Errors"),
        stat("invocations", "Invocations"),
        MetricDataQuery(
            Id="rate",
            Label="Error rate (%)",
            Expression="IF(invocations > 0, 100 * errors / invocations, 0)",
            ReturnData=True,
        ),
    ]


def add_monitoring(
    template: Template,
    ctx: StackContext,
    db_cluster_id: AWSHelperFn,
    functions: Mapping[str, FunctionRefs],
    queues: QueueRefs,
    api_stage: str,
    sessions_table: AWSHelperFn,
    replicated_buckets: Sequence[str],
) -> MonitoringRefs:
    """Topic, subscription and alarms. `functions` maps a short name to each function whose
    error rate is alarmed; `replicated_buckets` are the storage purposes replicating here."""
    key, topic = add_alarm_topic(template, ctx)
    topic_arn = Ref(topic)
    _add_aurora_lag_alarm(template, ctx, db_cluster_id, topic_arn)
    for short, function in functions.items():
        add_error_rate_alarm(template, ctx, short, function, topic_arn)
    _add_api_alarms(template, ctx, api_stage, topic_arn)
    _add_dead_letter_alarm(template, ctx, queues, topic_arn)
    _add_replication_alarms(template, ctx, replicated_buckets, sessions_table, topic_arn)
    peer = _add_peer_unhealthy_alarm(template, ctx, topic_arn)
    return MonitoringRefs(
        topic_arn=Ref(topic),
        topic_key_arn=GetAtt(key, "Arn"),
        peer_unhealthy_alarm_arn=GetAtt(peer, "Arn"),
        peer_unhealthy_alarm_name=ctx.name("peer-unhealthy"),
    )


def _add_aurora_lag_alarm(
    template: Template, ctx: StackContext, db_cluster_id: AWSHelperFn, topic_arn: AWSHelperFn
) -> None:
    lag_s = ctx.env.failover.replication_lag_alarm_s
    _alarm(
        template, ctx, "AuroraReplicationLagAlarm", "aurora-replication-lag",
        f"Aurora global replication lag into {ctx.region} above {lag_s} s (emitted only "
        "while this member is a secondary)",
        topic_arn,
        Namespace="AWS/RDS",
        MetricName="AuroraGlobalDBReplicationLag",
        Dimensions=_dimensions(DBClusterIdentifier=db_cluster_id),
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=lag_s * 1000,  # the metric is in milliseconds
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip


def _add_api_alarms(
    template: Template, ctx: StackContext, api_stage: str, topic_arn: AWSHelperFn
) -> None:
    api = _dimensions(ApiName=ctx.name("api"), Stage=api_stage)
    _alarm(
        template, ctx, "ApiLatencyAlarm", "api-p99-latency",
        f"API p99 latency above {API_P99_MS} ms", topic_arn,
        Namespace="AWS/ApiGateway", MetricName="Latency", Dimensions=api,
        ExtendedStatistic="p99", Period=60, EvaluationPeriods=5, DatapointsToAlarm=3,
        Threshold=API_P99_MS, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip
    _alarm(
        template, ctx, "Api5xxAlarm", "api-5xx-rate",
        f"More than {API_5XX_RATE:.0%} of API requests answered 5xx", topic_arn,
        Namespace="AWS/ApiGateway", MetricName="5XXError", Dimensions=api,
        Statistic="Average", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2,
        Threshold=API_5XX_RATE, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip


def _add_dead_letter_alarm(
    template: Template, ctx: StackContext, queues: QueueRefs, topic_arn: AWSHelperFn
) -> None:
    _alarm(
        template, ctx, "DeadLetterQueueAlarm", "trades-dlq-not-empty",
        "A trade could not be stored and waits in the dead-letter queue", topic_arn,
        Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=_dimensions(QueueName=queues.dlq_name), Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip


def _add_replication_alarms(
    template: Template,
    ctx: StackContext,
    replicated_buckets: Sequence[str],
    sessions_table: AWSHelperFn,
    topic_arn: AWSHelperFn,
) -> None:
    """S3 replication failures of each replicated bucket, and the sessions table's lag."""
    lag_s = ctx.env.failover.replication_lag_alarm_s
    for purpose in replicated_buckets:
        logical = purpose.capitalize()
        _alarm(
            template, ctx, f"{logical}ReplicationFailedAlarm", f"{purpose}-replication-failed",
            f"Objects of the {purpose} bucket failed to replicate to {ctx.peer_region}", topic_arn,
            Namespace="AWS/S3", MetricName="OperationsFailedReplication",
            Dimensions=_dimensions(
                SourceBucket=Sub(f"{ctx.name(purpose, ctx.region)}-${{AWS::AccountId}}"),
                DestinationBucket=Sub(f"{ctx.name(purpose, ctx.peer_region)}-${{AWS::AccountId}}"),
                RuleId=f"{purpose}-to-peer",
            ),
            Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )  # fmt: skip
    _alarm(
        template, ctx, "SessionsReplicationLatencyAlarm", "sessions-replication-latency",
        f"Sessions replication from {ctx.region} to {ctx.peer_region} slower than {lag_s} s",
        topic_arn,
        Namespace="AWS/DynamoDB", MetricName="ReplicationLatency",
        Dimensions=_dimensions(TableName=sessions_table, ReceivingRegion=ctx.peer_region),
        Statistic="Average", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2,
        Threshold=lag_s * 1000, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip


def _add_peer_unhealthy_alarm(
    template: Template, ctx: StackContext, topic_arn: AWSHelperFn
) -> Alarm:
    return _alarm(
        template, ctx, "PeerUnhealthyAlarm", "peer-unhealthy",
        f"{ctx.peer_region} failed every /health probe from {ctx.region} for "
        f"{PROBE_INTERVAL_S * PEER_UNHEALTHY_PERIODS} s",
        topic_arn,
        Namespace=NAMESPACE, MetricName=PEER_HEALTHY_METRIC,
        Dimensions=_dimensions(Environment=ctx.env.suffix, PeerRegion=ctx.peer_region),
        Statistic="Maximum", Period=PROBE_INTERVAL_S,
        EvaluationPeriods=PEER_UNHEALTHY_PERIODS, DatapointsToAlarm=PEER_UNHEALTHY_PERIODS,
        Threshold=1, ComparisonOperator="LessThanThreshold",
        # No data means our own probe is not running: no reason to move the writer.
        TreatMissingData="notBreaching",
    )  # fmt: skip


def add_error_rate_alarm(
    template: Template, ctx: StackContext, short: str, function: FunctionRefs,
    topic_arn: AWSHelperFn,
) -> Alarm:  # fmt: skip
    """More than LAMBDA_ERROR_RATE_PCT of one function's invocations failed."""
    logical = "".join(part.capitalize() for part in short.split("-"))
    return _alarm(
        template, ctx, f"{logical}ErrorRateAlarm", f"{short}-error-rate",
        f"{short} function: more than {LAMBDA_ERROR_RATE_PCT}% of invocations failed",
        topic_arn,
        Metrics=_error_rate(function),
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=LAMBDA_ERROR_RATE_PCT,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip


def add_audit_outbox_alarm(template: Template, ctx: StackContext, topic_arn: AWSHelperFn) -> Alarm:
    """Audit objects wait in the database outbox longer than AUDIT_OUTBOX_MAX_AGE_S: the
    shipper cannot reach S3 (its puts fail) or falls behind. The trades are safe (the
    objects are committed with them); the audit bucket is late."""
    # Only the writer region's shipper publishes (a read-only member ships nothing), so
    # missing data is not breaching (see _age_alarm).
    return _age_alarm(
        template, ctx, "AuditOutboxAgeAlarm", "audit-outbox-age",
        f"Audit objects waited more than {AUDIT_OUTBOX_MAX_AGE_S} s to be shipped to S3",
        topic_arn, (AUDIT_SHIPPER_SERVICE, AUDIT_OUTBOX_AGE_METRIC), AUDIT_OUTBOX_MAX_AGE_S,
        periods=(5, 3),
    )  # fmt: skip


def _age_alarm(
    template: Template, ctx: StackContext, logical: str, name: str, description: str,
    topic_arn: AWSHelperFn, metric: tuple[str, str], threshold: int,
    periods: tuple[int, int],
) -> Alarm:  # fmt: skip
    """The Maximum of an age a function publishes (its `service` and this environment as
    dimensions) above `threshold` in `periods` = (evaluated, to alarm) minutes. Missing
    data is not breaching: the publisher's own error-rate alarm reports its silence."""
    service, metric_name = metric
    evaluated, to_alarm = periods
    return _alarm(
        template, ctx, logical, name, description, topic_arn,
        Namespace=NAMESPACE, MetricName=metric_name,
        Dimensions=_dimensions(service=service, Environment=ctx.env.suffix),
        Statistic="Maximum", Period=60, EvaluationPeriods=evaluated, DatapointsToAlarm=to_alarm,
        Threshold=threshold, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip


# The journal reconciler (lambda_src/reconciler) publishes the age of the oldest accepted
# trade that is past its grace period and still not in Aurora; dimensions exactly these.
RECONCILER_SERVICE = "trade-reconciler"
JOURNAL_AGE_METRIC = "JournalOldestUnreconciledAgeSeconds"


def add_journal_rpo_alarm(template: Template, ctx: StackContext, topic_arn: AWSHelperFn) -> Alarm:
    """An accepted trade has waited longer than the RPO target without reaching Aurora:
    replays fail, the processor cannot store, or no region is the writer yet."""
    target = ctx.env.failover.rpo_target_s
    # The reconciler publishes every pass in both regions: one minute over is enough.
    return _age_alarm(
        template, ctx, "JournalRpoAlarm", "journal-rpo",
        f"An accepted trade is not in Aurora {target} s (rpo_target_s) after intake",
        topic_arn, (RECONCILER_SERVICE, JOURNAL_AGE_METRIC), target, periods=(1, 1),
    )  # fmt: skip


def grant_notify(refs: MonitoringRefs) -> list[Statement]:
    """sns:Publish on the alarm topic and the key use SNS encryption needs."""
    return [
        allow("NotifyAlarmTopic", (sns.Publish,), [refs.topic_arn]),
        allow("EncryptNotifications", (kms.GenerateDataKey, kms.Decrypt), [refs.topic_key_arn]),
    ]
