"""The failover workflow's CloudFormation resources: the state machine, its least-privilege
role and log group, and the EventBridge rule that starts the unplanned failover."""

from __future__ import annotations

from dataclasses import dataclass

from awacs import awslambda as lambda_
from awacs import cloudwatch, logs, rds, ssm, states, xray
from awacs.aws import ArnLike, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.events import Rule, Target
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup
from troposphere.stepfunctions import (
    CloudWatchLogsLogGroup,
    LogDestination,
    LoggingConfiguration,
    StateMachine,
    TracingConfiguration,
)

from trading_dr.policies import all_of, allow, document, service_trust, unscoped
from trading_dr.resources.failover.asl import definition_string
from trading_dr.resources.failover.workflow import definition
from trading_dr.resources.log_groups import add_log_group
from trading_dr.resources.monitoring import FENCE_NAMESPACE, MonitoringRefs, grant_notify
from trading_dr.resources.routing import (
    fence_parameter_name,
    lock_parameter_name,
    ssm_parameter_arn,
)
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn, FunctionRefs


@dataclass(frozen=True)
class FailoverRefs:
    state_machine_arn: AWSHelperFn
    state_machine_name: str
    role_arn: AWSHelperFn


@dataclass(frozen=True)
class WorkflowTargets:
    """What the workflow acts on: the database, its validator and its alarm topic."""

    global_cluster_id: AWSHelperFn
    target_cluster_arn: AWSHelperFn
    peer_cluster_arn: AWSHelperFn
    validator: FunctionRefs
    monitoring: MonitoringRefs


def state_machine_name(ctx: StackContext) -> str:
    return ctx.name("failover")


def add_failover_workflow(
    template: Template,
    ctx: StackContext,
    targets: WorkflowTargets,
    logs_key_arn: AWSHelperFn,
    trigger_alarm_arn: AWSHelperFn,
    start_on_peer_unhealthy: bool,
) -> FailoverRefs:
    """The state machine, its role and log group, and the rule that starts it (enabled
    only where `start_on_peer_unhealthy`, i.e. in the secondary)."""
    name = state_machine_name(ctx)
    # /aws/vendedlogs/ keeps the log delivery resource policy under its size limit.
    log_group = add_log_group(
        template, ctx, "FailoverLogGroup", f"/aws/vendedlogs/states/{name}", logs_key_arn
    )
    role = template.add_resource(
        Role(
            "FailoverRole",
            RoleName=ctx.regional_name("failover"),
            AssumeRolePolicyDocument=service_trust(
                "states.amazonaws.com",
                all_of(
                    StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
                    ArnLike("aws:SourceArn", _machine_arn(name, "stateMachine")),
                ),
            ),
            Policies=[
                Policy(
                    PolicyName="failover-least-privilege",
                    PolicyDocument=document(
                        *_workflow_statements(ctx, name, targets), *_delivery_statements(targets)
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )
    machine = _add_state_machine(template, ctx, name, targets, role, log_group)
    _add_trigger(template, ctx, machine, trigger_alarm_arn, start_on_peer_unhealthy)
    return FailoverRefs(
        state_machine_arn=Ref(machine), state_machine_name=name, role_arn=GetAtt(role, "Arn")
    )


def _machine_arn(name: str, kind: str) -> Sub:
    """This region's state machine (`stateMachine`) or its executions (`execution`)."""
    tail = ":*" if kind == "execution" else ""
    return Sub(
        f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:{name}{tail}"
    )


def _workflow_statements(ctx: StackContext, name: str, targets: WorkflowTargets) -> list[Statement]:
    """What the states call: the validator, Aurora, the fence and lock parameters."""
    global_cluster_arn = Sub(
        "arn:${AWS::Partition}:rds::${AWS::AccountId}:global-cluster:${Id}",
        Id=targets.global_cluster_id,
    )
    fence, lock = fence_parameter_name(ctx), lock_parameter_name(ctx)
    validator_arn = targets.validator.arn
    return [
        allow(
            "RunValidator",
            (lambda_.InvokeFunction,),
            [validator_arn, Sub("${Arn}:*", Arn=validator_arn)],
        ),
        # The Service Authorization Reference lists global-cluster* and cluster* for both
        # actions, and AWS's sample policy for global failover grants the global cluster
        # and BOTH members: the demoted member is authorised too. Nothing outside this
        # database.
        allow(
            "PromoteThisRegion",
            (rds.FailoverGlobalCluster, rds.SwitchoverGlobalCluster),
            [global_cluster_arn, targets.target_cluster_arn, targets.peer_cluster_arn],
        ),
        allow("PollGlobalCluster", (rds.DescribeGlobalClusters,), [global_cluster_arn]),
        # The fence (durable) and the one-run-at-a-time lock.
        allow(
            "RecordFenceAndLock",
            (ssm.PutParameter, ssm.GetParameter),
            [ssm_parameter_arn(fence), ssm_parameter_arn(lock)],
        ),
        allow("ReleaseLock", (ssm.DeleteParameter,), [ssm_parameter_arn(lock)]),
        allow("SeeLockHolder", (states.DescribeExecution,), [_machine_arn(name, "execution")]),
    ]


def _delivery_statements(targets: WorkflowTargets) -> list[Statement]:
    """What the workflow publishes: the fence metric, notifications, logs and traces."""
    return [
        unscoped(
            "PublishFence",
            (cloudwatch.PutMetricData,),
            all_of(StringEquals("cloudwatch:namespace", FENCE_NAMESPACE)),
        ),
        *grant_notify(targets.monitoring),
        unscoped(
            "DeliverExecutionLogs",
            (
                logs.CreateLogDelivery,
                logs.GetLogDelivery,
                logs.UpdateLogDelivery,
                logs.DeleteLogDelivery,
                logs.ListLogDeliveries,
                logs.PutResourcePolicy,
                logs.DescribeResourcePolicies,
                logs.DescribeLogGroups,
            ),
        ),
        unscoped(
            "UploadTraces",
            (
                xray.PutTraceSegments,
                xray.PutTelemetryRecords,
                xray.GetSamplingRules,
                xray.GetSamplingTargets,
            ),
        ),
    ]


def _add_state_machine(
    template: Template,
    ctx: StackContext,
    name: str,
    targets: WorkflowTargets,
    role: Role,
    log_group: LogGroup,
) -> StateMachine:
    return template.add_resource(
        StateMachine(
            "FailoverStateMachine",
            StateMachineName=name,
            StateMachineType="STANDARD",
            RoleArn=GetAtt(role, "Arn"),
            DefinitionString=definition_string(definition(ctx)),
            DefinitionSubstitutions={
                "ValidatorFunctionArn": targets.validator.arn,
                "GlobalClusterId": targets.global_cluster_id,
                "TargetClusterArn": targets.target_cluster_arn,
                "TopicArn": targets.monitoring.topic_arn,
                "FenceParameter": fence_parameter_name(ctx),
                "LockParameter": lock_parameter_name(ctx),
            },
            LoggingConfiguration=LoggingConfiguration(
                Level="ALL",
                IncludeExecutionData=True,
                Destinations=[
                    LogDestination(
                        CloudWatchLogsLogGroup=CloudWatchLogsLogGroup(
                            LogGroupArn=GetAtt(log_group, "Arn")
                        )
                    )
                ],
            ),
            TracingConfiguration=TracingConfiguration(Enabled=True),
            Tags=ctx.tags(),
        )
    )


def _add_trigger(
    template: Template,
    ctx: StackContext,
    machine: StateMachine,
    trigger_alarm_arn: AWSHelperFn,
    enabled: bool,
) -> None:
    """EventBridge starts the unplanned failover when the peer-down quorum alarm fires."""
    events_role = template.add_resource(
        Role(
            "FailoverTriggerRole",
            RoleName=ctx.regional_name("failover-trigger"),
            AssumeRolePolicyDocument=service_trust(
                "events.amazonaws.com",
                all_of(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            ),
            Policies=[
                Policy(
                    PolicyName="start-failover",
                    PolicyDocument=document(
                        allow("StartFailover", (states.StartExecution,), [Ref(machine)])
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )
    template.add_resource(
        Rule(
            "FailoverTriggerRule",
            Name=ctx.name("failover-on-peer-unhealthy"),
            Description=(
                f"Start the unplanned failover to {ctx.region} when {ctx.peer_region} is "
                "down from here AND from the observer (enabled only where the profile says so)"
            ),
            State="ENABLED" if enabled else "DISABLED",
            EventPattern={
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": [trigger_alarm_arn],
                "detail": {"state": {"value": ["ALARM"]}},
            },
            Targets=[
                Target(
                    Id="failover-workflow",
                    Arn=Ref(machine),
                    RoleArn=GetAtt(events_role, "Arn"),
                    Input='{"mode": "unplanned", "trigger": "peer-down-quorum-alarm"}',
                )
            ],
        )
    )
