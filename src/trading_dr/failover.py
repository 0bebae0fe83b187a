"""The failover workflow of one region: Step Functions, its ASL built here as plain data.

A copy runs in each region and always moves the writer *to its own region*, so failing
back is the same workflow in the other region. Input `{"mode": ...}`:

- `unplanned` (EventBridge, on the secondary's peer-unhealthy alarm): Aurora
  `FailoverGlobalCluster` with `AllowDataLoss` (the old primary may be gone);
- `planned` (`trading-dr failover --drill`, failback): `SwitchoverGlobalCluster`, no loss,
  needs both regions healthy;
- `release`: lift the fence this region holds on its peer (first step of a failback).

Steps: validate readiness (validator function) -> fence the old primary (publish
`PeerFenced`, a data-plane signal Route 53 reads through an alarm-based health check, see
routing.py) -> promote Aurora -> poll the global cluster until the writer is in this
region, bounded -> move traffic (force the fence alarm now rather than at its next
evaluation) -> verify this region serves (validator probes its own /health) -> notify.

Nothing here calls Route 53 or anything in the peer's region: during an unplanned
failover of us-east-1 no us-east-1 control plane is needed. Every Task retries throttling
with backoff and catches everything else into `NotifyFailure`, naming the failed state.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from awacs import awslambda as lambda_
from awacs import cloudwatch, logs, rds, states, xray
from awacs.aws import ArnLike, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.events import Rule, Target
from troposphere.iam import Policy, Role
from troposphere.stepfunctions import (
    CloudWatchLogsLogGroup,
    LogDestination,
    LoggingConfiguration,
    StateMachine,
    TracingConfiguration,
)

from trading_dr.context import StackContext
from trading_dr.log_groups import add_log_group
from trading_dr.monitoring import NAMESPACE, PEER_FENCED_METRIC, MonitoringRefs, grant_notify
from trading_dr.policies import all_of, allow, document, service_trust, unscoped
from trading_dr.refs import AWSHelperFn, FunctionRefs
from trading_dr.routing import RoutingRefs

Asl = dict[str, Any]

MODES = ("unplanned", "planned", "release")
POLL_INTERVAL_S = 10
# Aurora documents managed failovers and switchovers in "typically minutes"; past this
# the workflow stops waiting and pages a human with the global cluster's last state.
MAX_WRITER_POLLS = 30
LAMBDA_TASK_TIMEOUT_S = 90  # the validator's own timeout is 60 s
SDK_TASK_TIMEOUT_S = 30
STATE_MACHINE_TIMEOUT_S = 900

# Step Functions names aws-sdk errors <Service>.<Exception>; throttling is not a modeled
# RDS/CloudWatch exception, so it surfaces as the service's base exception.
THROTTLING = {
    "lambda": [
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ],
    "rds": ["Rds.ThrottlingException", "Rds.RdsException"],
    "cloudwatch": ["CloudWatch.ThrottlingException", "CloudWatch.CloudWatchException"],
    "sns": ["SNS.ThrottledException", "SNS.KmsThrottlingException", "SNS.InternalErrorException"],
}

# Placeholders filled by DefinitionSubstitutions (CloudFormation resolves them).
SUBSTITUTIONS = (
    "ValidatorFunctionArn",
    "GlobalClusterId",
    "TargetClusterArn",
    "TopicArn",
    "FenceAlarmName",
)


@dataclass(frozen=True)
class FailoverRefs:
    state_machine_arn: AWSHelperFn
    state_machine_name: str
    role_arn: AWSHelperFn


def _retry(service: str) -> list[Asl]:
    return [
        {
            "ErrorEquals": THROTTLING[service],
            "IntervalSeconds": 2,
            "MaxAttempts": 4,
            "BackoffRate": 2.0,
        }
    ]


def _task(resource: str, service: str, parameters: Asl, next_state: str, **extra: Any) -> Asl:
    timeout = LAMBDA_TASK_TIMEOUT_S if service == "lambda" else SDK_TASK_TIMEOUT_S
    return {
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters,
        "TimeoutSeconds": timeout,
        "Retry": _retry(service),
        **extra,
        "Next": next_state,
    }


def _fence_metric(ctx: StackContext, value: int) -> Asl:
    return {
        "Namespace": NAMESPACE,
        "MetricData": [
            {
                "MetricName": PEER_FENCED_METRIC,
                "Dimensions": [
                    {"Name": "Environment", "Value": ctx.env.suffix},
                    {"Name": "FencedRegion", "Value": ctx.peer_region},
                ],
                "Value": value,
                "Unit": "Count",
            }
        ],
    }


def definition(ctx: StackContext) -> Asl:
    """The workflow's ASL with `${...}` placeholders for the SUBSTITUTIONS."""
    region, peer, suffix = ctx.region, ctx.peer_region, ctx.env.suffix
    validator = "arn:aws:states:::lambda:invoke"
    sdk = "arn:aws:states:::aws-sdk:"
    cluster = {"GlobalClusterIdentifier": "${GlobalClusterId}"}
    target = {**cluster, "TargetDbClusterIdentifier": "${TargetClusterArn}"}
    states_: dict[str, Asl] = {
        "CheckInput": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.mode", "IsPresent": True},
                        {"Variable": "$.mode", "StringEquals": mode},
                    ],
                    "Next": "ReleaseFence" if mode == "release" else "ValidateReadiness",
                }
                for mode in MODES
            ],
            "Default": "InvalidInput",
        },
        "InvalidInput": {
            "Type": "Pass",
            "Parameters": {
                "state": "CheckInput",
                "error": "InvalidInput",
                "cause": f'input must be {{"mode": one of {", ".join(MODES)}}}',
            },
            "ResultPath": "$.failure",
            "Next": "NotifyFailure",
        },
        "ValidateReadiness": _task(
            validator,
            "lambda",
            {
                "FunctionName": "${ValidatorFunctionArn}",
                "Payload": {"action": "readiness", "scope": "recovery", "mode.$": "$.mode"},
            },
            "ReadinessGate",
            ResultSelector={"ready.$": "$.Payload.ready", "failed.$": "$.Payload.failed"},
            ResultPath="$.readiness",
        ),
        "ReadinessGate": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.readiness.ready", "BooleanEquals": True, "Next": "FenceOldPrimary"}
            ],
            "Default": "NotReady",
        },
        "NotReady": {
            "Type": "Pass",
            "Parameters": {
                "state": "ValidateReadiness",
                "error": "ReadinessFailed",
                "cause.$": "States.JsonToString($.readiness.failed)",
            },
            "ResultPath": "$.failure",
            "Next": "NotifyFailure",
        },
        # Publish first: this datapoint is the durable fence, whatever happens next.
        "FenceOldPrimary": _task(
            f"{sdk}cloudwatch:putMetricData",
            "cloudwatch",
            _fence_metric(ctx, 1),
            "ChoosePromotion",
            ResultPath=None,
        ),
        "ChoosePromotion": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.mode", "StringEquals": "planned", "Next": "SwitchoverGlobalCluster"}
            ],
            "Default": "FailoverGlobalCluster",
        },
        "FailoverGlobalCluster": _task(
            f"{sdk}rds:failoverGlobalCluster",
            "rds",
            {**target, "AllowDataLoss": True},
            "StartWriterPoll",
            ResultPath=None,
        ),
        "SwitchoverGlobalCluster": _task(
            f"{sdk}rds:switchoverGlobalCluster",
            "rds",
            target,
            "StartWriterPoll",
            ResultPath=None,
        ),
        "StartWriterPoll": {
            "Type": "Pass",
            "Result": {"count": 0},
            "ResultPath": "$.poll",
            "Next": "DescribeGlobalCluster",
        },
        "WaitForWriter": {
            "Type": "Wait",
            "Seconds": POLL_INTERVAL_S,
            "Next": "DescribeGlobalCluster",
        },
        "DescribeGlobalCluster": _task(
            f"{sdk}rds:describeGlobalClusters",
            "rds",
            cluster,
            "CountPoll",
            ResultSelector={
                "writers.$": "$.GlobalClusters[0].GlobalClusterMembers[?(@.IsWriter == true)]"
                ".DBClusterArn",
                # [*] and ArrayGetItem: a scalar whatever the JSONPath engine makes of [0].
                "status.$": "States.ArrayGetItem($.GlobalClusters[*].Status, 0)",
            },
            ResultPath="$.cluster",
        ),
        "CountPoll": {
            "Type": "Pass",
            "Parameters": {
                "count.$": "States.MathAdd($.poll.count, 1)",
                "writer_here.$": "States.ArrayContains($.cluster.writers, '${TargetClusterArn}')",
            },
            "ResultPath": "$.poll",
            "Next": "WriterMoved",
        },
        "WriterMoved": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.poll.writer_here", "BooleanEquals": True},
                        {"Variable": "$.cluster.status", "StringEquals": "available"},
                    ],
                    "Next": "MoveTraffic",
                },
                {
                    "Variable": "$.poll.count",
                    "NumericGreaterThanEquals": MAX_WRITER_POLLS,
                    "Next": "WriterPollTimedOut",
                },
            ],
            "Default": "WaitForWriter",
        },
        "WriterPollTimedOut": {
            "Type": "Pass",
            "Parameters": {
                "state": "WaitForWriter",
                "error": "WriterPollTimeout",
                "cause.$": intrinsic_format(
                    f"the writer was not in {region} after {MAX_WRITER_POLLS} polls "
                    f"{POLL_INTERVAL_S} s apart; global cluster status {{}}, writers {{}}",
                    "$.cluster.status",
                    "States.JsonToString($.cluster.writers)",
                ),
            },
            "ResultPath": "$.failure",
            "Next": "NotifyFailure",
        },
        # The fence datapoint would move traffic at the alarm's next evaluation; forcing
        # the state moves it now. The datapoint keeps the alarm there afterwards.
        "MoveTraffic": _task(
            f"{sdk}cloudwatch:setAlarmState",
            "cloudwatch",
            {
                "AlarmName": "${FenceAlarmName}",
                "StateValue": "ALARM",
                "StateReason.$": intrinsic_format(
                    f"failover workflow ({{}} mode): writer is in {region}, fencing {peer}",
                    "$.mode",
                ),
            },
            "VerifyServes",
            ResultPath=None,
        ),
        "VerifyServes": _task(
            validator,
            "lambda",
            {"FunctionName": "${ValidatorFunctionArn}", "Payload": {"action": "verify"}},
            "ServesGate",
            ResultSelector={"serving.$": "$.Payload.serving", "detail.$": "$.Payload.detail"},
            ResultPath="$.verify",
        ),
        "ServesGate": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.verify.serving", "BooleanEquals": True, "Next": "NotifySuccess"}
            ],
            "Default": "NotServing",
        },
        "NotServing": {
            "Type": "Pass",
            "Parameters": {
                "state": "VerifyServes",
                "error": "NotServing",
                "cause.$": "States.JsonToString($.verify.detail)",
            },
            "ResultPath": "$.failure",
            "Next": "NotifyFailure",
        },
        "ReleaseFence": _task(
            f"{sdk}cloudwatch:putMetricData",
            "cloudwatch",
            _fence_metric(ctx, 0),
            "ReleaseFenceAlarm",
            ResultPath=None,
        ),
        "ReleaseFenceAlarm": _task(
            f"{sdk}cloudwatch:setAlarmState",
            "cloudwatch",
            {
                "AlarmName": "${FenceAlarmName}",
                "StateValue": "OK",
                "StateReason": f"failover workflow: fence of {peer} released for a failback",
            },
            "NotifySuccess",
            ResultPath=None,
        ),
        "NotifySuccess": _task(
            "arn:aws:states:::sns:publish",
            "sns",
            {
                "TopicArn": "${TopicArn}",
                "Subject": f"trading-dr {suffix}: {region} workflow succeeded",
                "Message.$": intrinsic_format(
                    f"Failover workflow in {region} succeeded ({{}} mode). State: {{}}",
                    "$.mode",
                    "States.JsonToString($)",
                ),
            },
            "Done",
            ResultPath=None,
        ),
        "Done": {"Type": "Succeed"},
        "NotifyFailure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": "${TopicArn}",
                "Subject": f"trading-dr {suffix}: {region} failover FAILED",
                "Message.$": intrinsic_format(
                    f"Failover workflow in {region} failed in state {{}}: {{}}: {{}}. State: {{}}",
                    "$.failure.state",
                    "$.failure.error",
                    "$.failure.cause",
                    "States.JsonToString($)",
                ),
            },
            "TimeoutSeconds": SDK_TASK_TIMEOUT_S,
            "Retry": _retry("sns"),
            # Even a lost notification must end the execution as failed, not succeeded.
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.notify_error",
                    "Next": "FailoverFailed",
                }
            ],
            "ResultPath": None,
            "Next": "FailoverFailed",
        },
        "FailoverFailed": {
            "Type": "Fail",
            "Error": "FailoverFailed",
            "Cause": "see the notification on the alarm topic and the execution history",
        },
    }
    _catch_every_task(states_)
    return {
        "Comment": f"trading-dr {suffix}: move the Aurora writer and traffic to {region}",
        "StartAt": "CheckInput",
        "TimeoutSeconds": STATE_MACHINE_TIMEOUT_S,
        "States": states_,
    }


def intrinsic_format(template: str, *args: str) -> str:
    """An ASL `States.Format(...)` intrinsic; `template` uses {} for each argument."""
    escaped = template.replace("'", "\\'")
    return f"States.Format('{escaped}', {', '.join(args)})"


def _catch_every_task(states_: dict[str, Asl]) -> None:
    """Give every Task but NotifyFailure a Catch into a Pass naming it, then NotifyFailure."""
    for name in [n for n, s in states_.items() if s["Type"] == "Task" and n != "NotifyFailure"]:
        handler = f"{name}Failed"
        states_[name]["Catch"] = [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": handler}
        ]
        states_[handler] = {
            "Type": "Pass",
            "Parameters": {"state": name, "error.$": "$.error.Error", "cause.$": "$.error.Cause"},
            "ResultPath": "$.failure",
            "Next": "NotifyFailure",
        }


def substitute(asl: Asl, values: dict[str, str]) -> Asl:
    """The definition with placeholders replaced, as Step Functions receives it."""
    text = json.dumps(asl)
    for name in SUBSTITUTIONS:
        text = text.replace("${" + name + "}", values[name])
    result: Asl = json.loads(text)
    return result


def state_machine_name(ctx: StackContext) -> str:
    return ctx.name("failover")


def add_failover_workflow(
    template: Template,
    ctx: StackContext,
    global_cluster_id: AWSHelperFn,
    target_cluster_arn: AWSHelperFn,
    validator: FunctionRefs,
    monitoring: MonitoringRefs,
    routing: RoutingRefs,
    logs_key_arn: AWSHelperFn,
    start_on_peer_unhealthy: bool,
) -> FailoverRefs:
    """The state machine, its role and log group, and the rule that starts it (enabled
    only where `start_on_peer_unhealthy`, i.e. in the secondary)."""
    name = state_machine_name(ctx)
    machine_arn = Sub(
        f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}"
    )
    global_cluster_arn = Sub(
        "arn:${AWS::Partition}:rds::${AWS::AccountId}:global-cluster:${Id}", Id=global_cluster_id
    )
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
                    ArnLike("aws:SourceArn", machine_arn),
                ),
            ),
            Policies=[
                Policy(
                    PolicyName="failover-least-privilege",
                    PolicyDocument=document(
                        allow(
                            "RunValidator",
                            (lambda_.InvokeFunction,),
                            [validator.arn, Sub("${Arn}:*", Arn=validator.arn)],
                        ),
                        # Both calls name the global cluster and the member they promote;
                        # the member is this region's, so nothing else can be promoted.
                        allow(
                            "PromoteThisRegion",
                            (rds.FailoverGlobalCluster, rds.SwitchoverGlobalCluster),
                            [global_cluster_arn, target_cluster_arn],
                        ),
                        allow(
                            "PollGlobalCluster", (rds.DescribeGlobalClusters,), [global_cluster_arn]
                        ),
                        unscoped(
                            "PublishFence",
                            (cloudwatch.PutMetricData,),
                            all_of(StringEquals("cloudwatch:namespace", NAMESPACE)),
                        ),
                        allow(
                            "ForceFenceAlarm",
                            (cloudwatch.SetAlarmState,),
                            [routing.fence_alarm_arn],
                        ),
                        *grant_notify(monitoring),
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
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )  # fmt: skip
    machine = template.add_resource(
        StateMachine(
            "FailoverStateMachine",
            StateMachineName=name,
            StateMachineType="STANDARD",
            RoleArn=GetAtt(role, "Arn"),
            Definition=copy.deepcopy(definition(ctx)),
            DefinitionSubstitutions={
                "ValidatorFunctionArn": validator.arn,
                "GlobalClusterId": global_cluster_id,
                "TargetClusterArn": target_cluster_arn,
                "TopicArn": monitoring.topic_arn,
                "FenceAlarmName": routing.fence_alarm_name,
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
                f"Start the unplanned failover to {ctx.region} when {ctx.peer_region} "
                "fails every probe (enabled only where the profile says so)"
            ),
            State="ENABLED" if start_on_peer_unhealthy else "DISABLED",
            EventPattern={
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": [monitoring.peer_unhealthy_alarm_arn],
                "detail": {"state": {"value": ["ALARM"]}},
            },
            Targets=[
                Target(
                    Id="failover-workflow",
                    Arn=Ref(machine),
                    RoleArn=GetAtt(events_role, "Arn"),
                    Input='{"mode": "unplanned", "trigger": "peer-unhealthy-alarm"}',
                )
            ],
        )
    )
    return FailoverRefs(
        state_machine_arn=Ref(machine), state_machine_name=name, role_arn=GetAtt(role, "Arn")
    )
