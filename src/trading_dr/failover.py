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
from awacs import cloudwatch, logs, rds, ssm, states, xray
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
from trading_dr.monitoring import FENCE_NAMESPACE, PEER_FENCED_METRIC, MonitoringRefs, grant_notify
from trading_dr.policies import all_of, allow, document, service_trust, unscoped
from trading_dr.refs import AWSHelperFn, FunctionRefs
from trading_dr.routing import fence_parameter_name, lock_parameter_name, ssm_parameter_arn

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
    "ssm": ["Ssm.ThrottlingException", "Ssm.InternalServerErrorException"],
    "sfn": ["Sfn.SfnException"],
}
# PutParameter without Overwrite on an existing name: another run holds the lock.
LOCK_EXISTS = "Ssm.ParameterAlreadyExistsException"
# Values of the fence parameter; the validator republishes 1 for FENCE_SET, else 0.
FENCE_SET = "fenced"
FENCE_RELEASED = "released"
NOTHING_TO_UNDO = "nothing, this run changed nothing"

# Placeholders filled by DefinitionSubstitutions (CloudFormation resolves them).
SUBSTITUTIONS = (
    "ValidatorFunctionArn",
    "GlobalClusterId",
    "TargetClusterArn",
    "TopicArn",
    "FenceParameter",
    "LockParameter",
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
        "Namespace": FENCE_NAMESPACE,
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


def _ssm_put(name: str, value: str | None, *, overwrite: bool, value_path: str = "") -> Asl:
    params: Asl = {"Name": name, "Type": "String", "Overwrite": overwrite}
    if value_path:
        params["Value.$"] = value_path
    else:
        params["Value"] = value
    return params


def _failure(state: str, error: str, cause_path: str) -> Asl:
    """A Pass handing {state, error, cause} to the failure path."""
    return {
        "Type": "Pass",
        "Parameters": {"state": state, "error": error, "cause.$": cause_path},
        "ResultPath": "$.failure",
        "Next": "ReleaseLockOnFailure",
    }


def definition(ctx: StackContext) -> Asl:
    """The workflow's ASL with `${...}` placeholders for the SUBSTITUTIONS."""
    region, peer, suffix = ctx.region, ctx.peer_region, ctx.env.suffix
    validator = "arn:aws:states:::lambda:invoke"
    sdk = "arn:aws:states:::aws-sdk:"
    cluster = {"GlobalClusterIdentifier": "${GlobalClusterId}"}
    target = {**cluster, "TargetDbClusterIdentifier": "${TargetClusterArn}"}
    describe_cluster = {
        "writers.$": "$.GlobalClusters[0].GlobalClusterMembers[?(@.IsWriter == true)].DBClusterArn",
        # [*] and ArrayGetItem: a scalar whatever the JSONPath engine makes of [0].
        "status.$": "States.ArrayGetItem($.GlobalClusters[*].Status, 0)",
    }
    undo = release_command(ctx)
    states_: dict[str, Asl] = {
        # What this run has changed so far; the failure notification reports it.
        "InitRun": {
            "Type": "Pass",
            "Parameters": {"lock": False, "fence": "unchanged", "undo": NOTHING_TO_UNDO},
            "ResultPath": "$.run",
            "Next": "CheckInput",
        },
        "CheckInput": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.mode", "IsPresent": True},
                        {"Variable": "$.mode", "StringEquals": mode},
                    ],
                    "Next": "CheckAcceptFlag",
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
                "cause": f'input must be {{"mode": one of {", ".join(MODES)}}} and, '
                'optionally, "accept_data_loss": true or false',
            },
            "ResultPath": "$.failure",
            "Next": "ReleaseLockOnFailure",
        },
        # Only an explicit boolean true accepts data loss; absent means false.
        "CheckAcceptFlag": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.accept_data_loss", "IsPresent": False, "Next": "DefaultAcceptFlag"},
                {"Variable": "$.accept_data_loss", "IsBoolean": True, "Next": "AcquireLock"},
            ],
            "Default": "InvalidInput",
        },
        "DefaultAcceptFlag": {
            "Type": "Pass",
            "Result": False,
            "ResultPath": "$.accept_data_loss",
            "Next": "AcquireLock",
        },
        # One run at a time: creating the lock parameter fails if it exists. The
        # parameter is strongly consistent, unlike ListExecutions.
        "AcquireLock": _task(
            f"{sdk}ssm:putParameter",
            "ssm",
            _ssm_put("${LockParameter}", None, overwrite=False, value_path="$$.Execution.Id"),
            "LockHeld",
            ResultPath=None,
            Catch=[
                {
                    # Any other failure to create it also means: look at the lock. If it
                    # is not there after all, reading it fails and so does the run.
                    "ErrorEquals": [LOCK_EXISTS, "States.TaskFailed"],
                    "ResultPath": "$.lock_error",
                    "Next": "ReadLock",
                }
            ],
        ),
        "ReadLock": _task(
            f"{sdk}ssm:getParameter",
            "ssm",
            {"Name": "${LockParameter}"},
            "DescribeLockHolder",
            ResultSelector={"holder.$": "$.Parameter.Value"},
            ResultPath="$.lock",
        ),
        "DescribeLockHolder": _task(
            f"{sdk}sfn:describeExecution",
            "sfn",
            {"ExecutionArn.$": "$.lock.holder"},
            "HolderRunning",
            ResultSelector={"status.$": "$.Status"},
            ResultPath="$.holder",
        ),
        "HolderRunning": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.holder.status", "StringEquals": "RUNNING", "Next": "AnotherRun"}
            ],
            # The holder ended without releasing (timed out, aborted): take the lock over.
            "Default": "TakeOverLock",
        },
        "AnotherRun": {
            "Type": "Pass",
            "Parameters": {
                "outcome.$": intrinsic_format(
                    f"stopped without changes: {{}} is already running in {region}",
                    "$.lock.holder",
                )
            },
            "ResultPath": "$.result",
            "Next": "Stopped",
        },
        "Stopped": {"Type": "Succeed"},
        "TakeOverLock": _task(
            f"{sdk}ssm:putParameter",
            "ssm",
            _ssm_put("${LockParameter}", None, overwrite=True, value_path="$$.Execution.Id"),
            "LockHeld",
            ResultPath=None,
        ),
        "LockHeld": {
            "Type": "Pass",
            "Result": True,
            "ResultPath": "$.run.lock",
            "Next": "ChooseMode",
        },
        "ChooseMode": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.mode", "StringEquals": "release", "Next": "RecordFenceReleased"}
            ],
            "Default": "DescribeStartingWriter",
        },
        "DescribeStartingWriter": _task(
            f"{sdk}rds:describeGlobalClusters",
            "rds",
            cluster,
            "IsWriterHere",
            ResultSelector=describe_cluster,
            ResultPath="$.cluster",
        ),
        "IsWriterHere": {
            "Type": "Pass",
            "Parameters": {
                "writer_here.$": "States.ArrayContains($.cluster.writers, '${TargetClusterArn}')",
            },
            "ResultPath": "$.start",
            "Next": "WriterAlreadyHere",
        },
        "WriterAlreadyHere": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.start.writer_here", "BooleanEquals": True, "Next": "NoChange"}
            ],
            "Default": "ValidateReadiness",
        },
        "NoChange": {
            "Type": "Pass",
            "Parameters": {
                "outcome": f"no change: the writer is already in {region}; nothing was promoted "
                "or fenced"
            },
            "ResultPath": "$.result",
            "Next": "ReleaseLock",
        },
        "ValidateReadiness": _task(
            validator,
            "lambda",
            {
                "FunctionName": "${ValidatorFunctionArn}",
                "Payload": {
                    "action": "readiness",
                    "scope": "recovery",
                    "mode.$": "$.mode",
                    "accept_data_loss.$": "$.accept_data_loss",
                },
            },
            "ReadinessGate",
            ResultSelector={"ready.$": "$.Payload.ready", "failed.$": "$.Payload.failed"},
            ResultPath="$.readiness",
        ),
        "ReadinessGate": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.readiness.ready", "BooleanEquals": True, "Next": "RecordFence"}
            ],
            "Default": "NotReady",
        },
        "NotReady": _failure(
            "ValidateReadiness", "ReadinessFailed", "States.JsonToString($.readiness.failed)"
        ),
        # The fence is this parameter: durable, in this region, rewritten only by this
        # workflow. The validator republishes it every minute (see readiness.py).
        "RecordFence": _task(
            f"{sdk}ssm:putParameter",
            "ssm",
            _ssm_put("${FenceParameter}", FENCE_SET, overwrite=True),
            "FenceRecorded",
            ResultPath=None,
        ),
        "FenceRecorded": {
            "Type": "Pass",
            "Parameters": {
                "lock": True,
                "fence": f"set: {peer} is fenced out of DNS by {region}",
                "undo": undo,
            },
            "ResultPath": "$.run",
            "Next": "PublishFence",
        },
        # At once rather than at the validator's next minute.
        "PublishFence": _task(
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
            ResultSelector=describe_cluster,
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
                    "Next": "VerifyServes",
                },
                {
                    "Variable": "$.poll.count",
                    "NumericGreaterThanEquals": MAX_WRITER_POLLS,
                    "Next": "WriterPollTimedOut",
                },
            ],
            "Default": "WaitForWriter",
        },
        "WriterPollTimedOut": _failure(
            "WaitForWriter",
            "WriterPollTimeout",
            intrinsic_format(
                f"the writer was not in {region} after {MAX_WRITER_POLLS} polls "
                f"{POLL_INTERVAL_S} s apart; global cluster status {{}}, writers {{}}",
                "$.cluster.status",
                "States.JsonToString($.cluster.writers)",
            ),
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
                {"Variable": "$.verify.serving", "BooleanEquals": True, "Next": "FailedOver"}
            ],
            "Default": "NotServing",
        },
        "NotServing": _failure(
            "VerifyServes", "NotServing", "States.JsonToString($.verify.detail)"
        ),
        "FailedOver": {
            "Type": "Pass",
            "Parameters": {
                "outcome.$": intrinsic_format(
                    f"the writer is in {region} ({{}} mode) and {peer} is fenced; to let "
                    f"{peer} take traffic again: {undo}",
                    "$.mode",
                )
            },
            "ResultPath": "$.result",
            "Next": "ReleaseLock",
        },
        "RecordFenceReleased": _task(
            f"{sdk}ssm:putParameter",
            "ssm",
            _ssm_put("${FenceParameter}", FENCE_RELEASED, overwrite=True),
            "FenceReleased",
            ResultPath=None,
        ),
        "FenceReleased": {
            "Type": "Pass",
            "Parameters": {
                "lock": True,
                "fence": f"released: {peer} may take traffic when healthy",
                "undo": NOTHING_TO_UNDO,
            },
            "ResultPath": "$.run",
            "Next": "PublishFenceReleased",
        },
        "PublishFenceReleased": _task(
            f"{sdk}cloudwatch:putMetricData",
            "cloudwatch",
            _fence_metric(ctx, 0),
            "Released",
            ResultPath=None,
        ),
        "Released": {
            "Type": "Pass",
            "Parameters": {
                "outcome": f"fence of {peer} released; {peer} takes traffic when healthy"
            },
            "ResultPath": "$.result",
            "Next": "ReleaseLock",
        },
        "ReleaseLock": _task(
            f"{sdk}ssm:deleteParameter",
            "ssm",
            {"Name": "${LockParameter}"},
            "LockReleased",
            ResultPath=None,
        ),
        "LockReleased": {
            "Type": "Pass",
            "Result": False,
            "ResultPath": "$.run.lock",
            "Next": "NotifySuccess",
        },
        "NotifySuccess": _task(
            "arn:aws:states:::sns:publish",
            "sns",
            {
                "TopicArn": "${TopicArn}",
                "Subject": f"trading-dr {suffix}: {region} workflow succeeded",
                "Message.$": intrinsic_format(
                    f"Failover workflow in {region} succeeded ({{}} mode): {{}}. State: {{}}",
                    "$.mode",
                    "$.result.outcome",
                    "States.JsonToString($)",
                ),
            },
            "Done",
            ResultPath=None,
        ),
        "Done": {"Type": "Succeed"},
        # The lock is released on every way out that holds it, so a failed run never
        # blocks the next one for longer than it takes to fail.
        "ReleaseLockOnFailure": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.run.lock", "IsPresent": True},
                        {"Variable": "$.run.lock", "BooleanEquals": True},
                    ],
                    "Next": "ReleaseLockAfterFailure",
                }
            ],
            "Default": "NotifyFailure",
        },
        "ReleaseLockAfterFailure": {
            **_task(
                f"{sdk}ssm:deleteParameter",
                "ssm",
                {"Name": "${LockParameter}"},
                "NotifyFailure",
                ResultPath=None,
            ),
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.unlock_error",
                    "Next": "NotifyFailure",
                }
            ],
        },
        "NotifyFailure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": "${TopicArn}",
                "Subject": f"trading-dr {suffix}: {region} failover FAILED",
                "Message.$": intrinsic_format(
                    f"Failover workflow in {region} failed in state {{}}: {{}}: {{}}. "
                    "Left behind: fence {}. To undo: {}. State: {}",
                    "$.failure.state",
                    "$.failure.error",
                    "$.failure.cause",
                    "$.run.fence",
                    "$.run.undo",
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
        "StartAt": "InitRun",
        "TimeoutSeconds": STATE_MACHINE_TIMEOUT_S,
        "States": states_,
    }


def release_command(ctx: StackContext) -> str:
    """The CLI command that lifts the fence this region's workflow sets."""
    return f"trading-dr failover --release --env {ctx.env.name} --to {ctx.role.value}"


def intrinsic_format(template: str, *args: str) -> str:
    """An ASL `States.Format(...)` intrinsic; `template` uses {} for each argument."""
    escaped = template.replace("'", "\\'")
    return f"States.Format('{escaped}', {', '.join(args)})"


def _catch_every_task(states_: dict[str, Asl]) -> None:
    """Give every Task of the main path a Catch into a Pass naming it, then the failure
    path. A Task's own Catch entries (a lock that exists) come first."""
    own_catch = {"NotifyFailure", "ReleaseLockAfterFailure"}
    for name in [n for n, s in states_.items() if s["Type"] == "Task" and n not in own_catch]:
        handler = f"{name}Failed"
        states_[name]["Catch"] = [
            *states_[name].get("Catch", []),
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": handler},
        ]
        states_[handler] = {
            "Type": "Pass",
            "Parameters": {"state": name, "error.$": "$.error.Error", "cause.$": "$.error.Cause"},
            "ResultPath": "$.failure",
            "Next": "ReleaseLockOnFailure",
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
    peer_cluster_arn: AWSHelperFn,
    validator: FunctionRefs,
    monitoring: MonitoringRefs,
    logs_key_arn: AWSHelperFn,
    trigger_alarm_arn: AWSHelperFn,
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
    executions = Sub(
        f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{name}:*"
    )
    fence, lock = fence_parameter_name(ctx), lock_parameter_name(ctx)
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
                        # The Service Authorization Reference lists global-cluster* and
                        # cluster* for both actions, and AWS's sample policy for global
                        # failover grants the global cluster and BOTH members: the demoted
                        # member is authorised too. Nothing outside this database.
                        allow(
                            "PromoteThisRegion",
                            (rds.FailoverGlobalCluster, rds.SwitchoverGlobalCluster),
                            [global_cluster_arn, target_cluster_arn, peer_cluster_arn],
                        ),
                        allow(
                            "PollGlobalCluster", (rds.DescribeGlobalClusters,), [global_cluster_arn]
                        ),
                        # The fence (durable) and the one-run-at-a-time lock.
                        allow(
                            "RecordFenceAndLock",
                            (ssm.PutParameter, ssm.GetParameter),
                            [ssm_parameter_arn(fence), ssm_parameter_arn(lock)],
                        ),
                        allow("ReleaseLock", (ssm.DeleteParameter,), [ssm_parameter_arn(lock)]),
                        allow("SeeLockHolder", (states.DescribeExecution,), [executions]),
                        unscoped(
                            "PublishFence",
                            (cloudwatch.PutMetricData,),
                            all_of(StringEquals("cloudwatch:namespace", FENCE_NAMESPACE)),
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
                "FenceParameter": fence,
                "LockParameter": lock,
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
                f"Start the unplanned failover to {ctx.region} when {ctx.peer_region} is "
                "down from here AND from the observer (enabled only where the profile says so)"
            ),
            State="ENABLED" if start_on_peer_unhealthy else "DISABLED",
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
    return FailoverRefs(
        state_machine_arn=Ref(machine), state_machine_name=name, role_arn=GetAtt(role, "Arn")
    )
