"""The steps that move the writer and traffic to this region, one builder each, every one
returning its states in order: skip if the writer is already here, readiness, fence,
promote, poll, verify; and the release of the fence (the first step of a failback).

Fence: the old primary is fenced by publishing `PeerFenced`, a data-plane signal Route 53
reads through an alarm-based health check (see routing.py), so nothing here calls Route 53
or anything in the peer's region: during an unplanned failover of us-east-1 no us-east-1
control plane is needed. The `Next` of each step's last state is the composer's to give
(`workflow.py`), except where a step ends the run's path (verify, release).
"""

from __future__ import annotations

from trading_dr.resources.failover.asl import (
    LAMBDA_INVOKE,
    SDK,
    Asl,
    States,
    choose,
    failure,
    intrinsic_format,
    outcome,
    ssm_put,
    task,
)
from trading_dr.resources.failover.run import NOTHING_TO_UNDO
from trading_dr.resources.monitoring import FENCE_NAMESPACE, PEER_FENCED_METRIC
from trading_dr.resources.vocabulary.context import StackContext

POLL_INTERVAL_S = 10
# Aurora documents managed failovers and switchovers in "typically minutes"; past this
# the workflow stops waiting and pages a human with the global cluster's last state.
MAX_WRITER_POLLS = 30
# Values of the fence parameter; the validator republishes 1 for FENCE_SET, else 0.
FENCE_SET = "fenced"
FENCE_RELEASED = "released"


def release_command(ctx: StackContext) -> str:
    """The CLI command that lifts the fence this region's workflow sets."""
    return f"trading-dr failover --release --env {ctx.env.name} --to {ctx.role.value}"


def _cluster() -> Asl:
    return {"GlobalClusterIdentifier": "${GlobalClusterId}"}


def _describe_cluster(next_state: str) -> Asl:
    return task(
        f"{SDK}rds:describeGlobalClusters",
        "rds",
        _cluster(),
        next_state,
        ResultSelector={
            "writers.$": "$.GlobalClusters[0].GlobalClusterMembers[?(@.IsWriter == true)]"
            ".DBClusterArn",
            # [*] and ArrayGetItem: a scalar whatever the JSONPath engine makes of [0].
            "status.$": "States.ArrayGetItem($.GlobalClusters[*].Status, 0)",
        },
        ResultPath="$.cluster",
    )


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


def _run_record(fence: str, undo: str) -> Asl:
    """What this run has changed so far; the failure notification reports it."""
    return {"lock": True, "fence": fence, "undo": undo}


def skip_if_writer_here(region: str, next_state: str) -> States:
    """Nothing to do when the writer is already in this region: change nothing."""
    return {
        "DescribeStartingWriter": _describe_cluster("IsWriterHere"),
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
            "Default": next_state,
        },
        "NoChange": outcome(
            f"no change: the writer is already in {region}; nothing was promoted or fenced"
        ),
    }


def check_readiness(next_state: str) -> States:
    """The validator's recovery-scope readiness checks; any failure stops the run."""
    return {
        "ValidateReadiness": task(
            LAMBDA_INVOKE,
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
                {"Variable": "$.readiness.ready", "BooleanEquals": True, "Next": next_state}
            ],
            "Default": "NotReady",
        },
        "NotReady": failure(
            "ValidateReadiness", "ReadinessFailed", "States.JsonToString($.readiness.failed)"
        ),
    }


def fence(ctx: StackContext, next_state: str) -> States:
    """The fence is this parameter: durable, in this region, rewritten only by this
    workflow. The validator republishes it every minute (see readiness.py); it is
    published here at once rather than at the validator's next minute."""
    fenced = f"set: {ctx.peer_region} is fenced out of DNS by {ctx.region}"
    names = ("RecordFence", "FenceRecorded", "PublishFence")
    return _write_fence(
        ctx, names, FENCE_SET, _run_record(fenced, release_command(ctx)), next_state
    )


def _write_fence(
    ctx: StackContext, names: tuple[str, str, str], value: str, run: Asl, next_state: str
) -> States:
    """Record `value` in the fence parameter, then `run` as what this run changed, then
    publish the fence metric (1 while fenced) at once."""
    record, recorded, publish = names
    return {
        record: task(
            f"{SDK}ssm:putParameter",
            "ssm",
            ssm_put("${FenceParameter}", value, overwrite=True),
            recorded,
            ResultPath=None,
        ),
        recorded: {"Type": "Pass", "Parameters": run, "ResultPath": "$.run", "Next": publish},
        publish: task(
            f"{SDK}cloudwatch:putMetricData",
            "cloudwatch",
            _fence_metric(ctx, 1 if value == FENCE_SET else 0),
            next_state,
            ResultPath=None,
        ),
    }


def promote(promotions: dict[str, tuple[str, bool]], next_state: str) -> States:
    """Aurora moves the writer here: one Task per API of `promotions` (mode -> API name,
    AllowDataLoss), chosen by mode."""
    states_ = choose("ChoosePromotion", {m: _state_name(api) for m, (api, _) in promotions.items()})
    target = {**_cluster(), "TargetDbClusterIdentifier": "${TargetClusterArn}"}
    for api, allow_data_loss in dict(promotions.values()).items():
        parameters = {**target, "AllowDataLoss": True} if allow_data_loss else target
        states_[_state_name(api)] = task(
            f"{SDK}rds:{api}", "rds", parameters, next_state, ResultPath=None
        )
    return states_


def _state_name(api: str) -> str:
    return api[0].upper() + api[1:]


def poll_writer(region: str, next_state: str) -> States:
    """Describe the global cluster until the writer is here and it is available, bounded."""
    return {
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
        "DescribeGlobalCluster": _describe_cluster("CountPoll"),
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
                    "Next": next_state,
                },
                {
                    "Variable": "$.poll.count",
                    "NumericGreaterThanEquals": MAX_WRITER_POLLS,
                    "Next": "WriterPollTimedOut",
                },
            ],
            "Default": "WaitForWriter",
        },
        "WriterPollTimedOut": failure(
            "WaitForWriter",
            "WriterPollTimeout",
            intrinsic_format(
                f"the writer was not in {region} after {MAX_WRITER_POLLS} polls "
                f"{POLL_INTERVAL_S} s apart; global cluster status {{}}, writers {{}}",
                "$.cluster.status",
                "States.JsonToString($.cluster.writers)",
            ),
        ),
    }


def verify_serves(ctx: StackContext) -> States:
    """The validator probes this region's own /health: traffic can move here."""
    region, peer = ctx.region, ctx.peer_region
    return {
        "VerifyServes": task(
            LAMBDA_INVOKE,
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
        "NotServing": failure("VerifyServes", "NotServing", "States.JsonToString($.verify.detail)"),
        "FailedOver": outcome(
            intrinsic_format(
                f"the writer is in {region} ({{}} mode) and {peer} is fenced; to let "
                f"{peer} take traffic again: {release_command(ctx)}",
                "$.mode",
            )
        ),
    }


def release_fence(ctx: StackContext) -> States:
    """Lift the fence this region holds on its peer (the first step of a failback)."""
    peer = ctx.peer_region
    released = _run_record(f"released: {peer} may take traffic when healthy", NOTHING_TO_UNDO)
    names = ("RecordFenceReleased", "FenceReleased", "PublishFenceReleased")
    return {
        **_write_fence(ctx, names, FENCE_RELEASED, released, "Released"),
        "Released": outcome(f"fence of {peer} released; {peer} takes traffic when healthy"),
    }
