"""The frame of every failover run, one builder per step, each returning its states in
order: check the input, take the lock (one run at a time), choose by mode, release the
lock, notify; and the failure path every Task's Catch leads to. `workflow.py` composes
them with the steps of `recovery.py`.
"""

from __future__ import annotations

from trading_dr.resources.failover.asl import (
    FAILURE_PATH,
    SDK,
    SDK_TASK_TIMEOUT_S,
    SNS_PUBLISH,
    Asl,
    States,
    intrinsic_format,
    outcome,
    retry,
    ssm_put,
    task,
)
from trading_dr.resources.vocabulary.context import StackContext

# PutParameter without Overwrite on an existing name: another run holds the lock.
LOCK_EXISTS = "Ssm.ParameterAlreadyExistsException"
NOTHING_TO_UNDO = "nothing, this run changed nothing"
# Tasks with a Catch of their own: they are the failure path.
FAILURE_TASKS = {"NotifyFailure", "ReleaseLockAfterFailure"}


def check_input(modes: tuple[str, ...]) -> States:
    """The run record, then `mode` one of `modes` and `accept_data_loss` a boolean."""
    return {
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
                for mode in modes
            ],
            "Default": "InvalidInput",
        },
        "InvalidInput": {
            "Type": "Pass",
            "Parameters": {
                "state": "CheckInput",
                "error": "InvalidInput",
                "cause": f'input must be {{"mode": one of {", ".join(modes)}}} and, '
                'optionally, "accept_data_loss": true or false',
            },
            "ResultPath": "$.failure",
            "Next": FAILURE_PATH,
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
    }


def acquire_lock(region: str, next_state: str) -> States:
    """One run at a time: creating the lock parameter fails if it exists. The parameter is
    strongly consistent, unlike ListExecutions. A holder that ended without releasing it
    (timed out, aborted) loses it to this run."""
    lock_to_this_run = {"value_path": "$$.Execution.Id"}
    return {
        "AcquireLock": task(
            f"{SDK}ssm:putParameter",
            "ssm",
            ssm_put("${LockParameter}", None, overwrite=False, **lock_to_this_run),
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
        **_lock_holder(region),
        "TakeOverLock": task(
            f"{SDK}ssm:putParameter",
            "ssm",
            ssm_put("${LockParameter}", None, overwrite=True, **lock_to_this_run),
            "LockHeld",
            ResultPath=None,
        ),
        "LockHeld": {
            "Type": "Pass",
            "Result": True,
            "ResultPath": "$.run.lock",
            "Next": next_state,
        },
    }


def _lock_holder(region: str) -> States:
    """Whether the run holding the lock is still running: then this one stops unchanged."""
    return {
        "ReadLock": task(
            f"{SDK}ssm:getParameter",
            "ssm",
            {"Name": "${LockParameter}"},
            "DescribeLockHolder",
            ResultSelector={"holder.$": "$.Parameter.Value"},
            ResultPath="$.lock",
        ),
        "DescribeLockHolder": task(
            f"{SDK}sfn:describeExecution",
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
            "Default": "TakeOverLock",
        },
        "AnotherRun": outcome(
            intrinsic_format(
                f"stopped without changes: {{}} is already running in {region}", "$.lock.holder"
            ),
            "Stopped",
        ),
        "Stopped": {"Type": "Succeed"},
    }


def release_lock(next_state: str) -> States:
    return {
        "ReleaseLock": task(
            f"{SDK}ssm:deleteParameter",
            "ssm",
            {"Name": "${LockParameter}"},
            "LockReleased",
            ResultPath=None,
        ),
        "LockReleased": {
            "Type": "Pass",
            "Result": False,
            "ResultPath": "$.run.lock",
            "Next": next_state,
        },
    }


def notify_success(ctx: StackContext) -> States:
    region = ctx.region
    return {
        "NotifySuccess": task(
            SNS_PUBLISH,
            "sns",
            {
                "TopicArn": "${TopicArn}",
                "Subject": f"trading-dr {ctx.env.suffix}: {region} workflow succeeded",
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
    }


def fail(ctx: StackContext) -> States:
    """The failure path: release the lock on every way out that holds it, so a failed run
    never blocks the next one for longer than it takes to fail; then page and end failed."""
    return {
        FAILURE_PATH: {
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
            **task(
                f"{SDK}ssm:deleteParameter",
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
        "NotifyFailure": _notify_failure(ctx),
        "FailoverFailed": {
            "Type": "Fail",
            "Error": "FailoverFailed",
            "Cause": "see the notification on the alarm topic and the execution history",
        },
    }


def _notify_failure(ctx: StackContext) -> Asl:
    region = ctx.region
    return {
        "Type": "Task",
        "Resource": SNS_PUBLISH,
        "Parameters": {
            "TopicArn": "${TopicArn}",
            "Subject": f"trading-dr {ctx.env.suffix}: {region} failover FAILED",
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
        "Retry": retry("sns"),
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
    }
