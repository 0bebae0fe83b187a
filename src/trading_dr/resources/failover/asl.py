"""The ASL vocabulary of the failover workflow: Tasks with retries, failure hand-offs,
intrinsics, and the placeholders CloudFormation fills.

Every Task retries throttling with backoff and catches everything else into a Pass naming
the failed state, then the failure path (`catch_every_task`).
"""

from __future__ import annotations

import json
from typing import Any

Asl = dict[str, Any]
# A step: its states by name, in the order they are written.
States = dict[str, Asl]

LAMBDA_TASK_TIMEOUT_S = 90  # the validator's own timeout is 60 s
SDK_TASK_TIMEOUT_S = 30
# Task resources: the validator through the Lambda integration, everything else the SDK's.
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SDK = "arn:aws:states:::aws-sdk:"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
# Where every failure goes first: it releases the lock if this run holds it.
FAILURE_PATH = "ReleaseLockOnFailure"

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

# Placeholders filled by DefinitionSubstitutions (CloudFormation resolves them).
SUBSTITUTIONS = (
    "ValidatorFunctionArn",
    "GlobalClusterId",
    "TargetClusterArn",
    "TopicArn",
    "FenceParameter",
    "LockParameter",
)


def retry(service: str) -> list[Asl]:
    return [
        {
            "ErrorEquals": THROTTLING[service],
            "IntervalSeconds": 2,
            "MaxAttempts": 4,
            "BackoffRate": 2.0,
        }
    ]


def task(resource: str, service: str, parameters: Asl, next_state: str, **extra: Any) -> Asl:
    timeout = LAMBDA_TASK_TIMEOUT_S if service == "lambda" else SDK_TASK_TIMEOUT_S
    return {
        "Type": "Task",
        "Resource": resource,
        "Parameters": parameters,
        "TimeoutSeconds": timeout,
        "Retry": retry(service),
        **extra,
        "Next": next_state,
    }


def failure(state: str, error: str, cause_path: str) -> Asl:
    """A Pass handing {state, error, cause} to the failure path."""
    return {
        "Type": "Pass",
        "Parameters": {"state": state, "error": error, "cause.$": cause_path},
        "ResultPath": "$.failure",
        "Next": FAILURE_PATH,
    }


def outcome(text: str, next_state: str = "ReleaseLock") -> Asl:
    """A Pass recording how the run ended; `text` is either literal or an intrinsic."""
    # Step Functions evaluates an intrinsic only under a key ending in `.$`.
    key = "outcome.$" if text.startswith("States.") else "outcome"
    return {
        "Type": "Pass",
        "Parameters": {key: text},
        "ResultPath": "$.result",
        "Next": next_state,
    }


def ssm_put(name: str, value: str | None, *, overwrite: bool, value_path: str = "") -> Asl:
    params: Asl = {"Name": name, "Type": "String", "Overwrite": overwrite}
    if value_path:
        params["Value.$"] = value_path
    else:
        params["Value"] = value
    return params


def choose(name: str, by_mode: dict[str, str]) -> States:
    """A Choice on `mode`: the first entry of `by_mode` is the Default, the others whose
    target differs from it get a Choice of their own."""
    (_, default), *others = by_mode.items()
    choices = [
        {"Variable": "$.mode", "StringEquals": mode, "Next": target}
        for mode, target in others
        if target != default
    ]
    return {name: {"Type": "Choice", "Choices": choices, "Default": default}}


def intrinsic_format(template: str, *args: str) -> str:
    """An ASL `States.Format(...)` intrinsic; `template` uses {} for each argument."""
    escaped = template.replace("'", "\\'")
    return f"States.Format('{escaped}', {', '.join(args)})"


def catch_every_task(states_: dict[str, Asl], own_catch: set[str]) -> None:
    """Give every Task not in `own_catch` a Catch into a Pass naming it, then the failure
    path. A Task's own Catch entries (a lock that exists) come first."""
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
            "Next": FAILURE_PATH,
        }


def definition_string(asl: Asl) -> str:
    """The definition as the template carries it: a JSON string (DefinitionString).

    Not the `Definition` object: the workflow discards task results with
    `"ResultPath": null`, and CloudFormation's template validation answers "'null' values
    are not allowed in templates" to a null in a template (and its language extensions
    drop null-valued keys, which would keep every result instead). Inside a string the
    null is only Step Functions' business, as with the CDK's DefinitionString. Indented,
    so the rendered template shows it as a readable block.
    """
    return json.dumps(asl, indent=2)


def definition_of(properties: dict[str, Any]) -> Asl:
    """The ASL object of a rendered AWS::StepFunctions::StateMachine's properties."""
    if "DefinitionString" in properties:
        parsed: Asl = json.loads(properties["DefinitionString"])
        return parsed
    found: Asl = properties["Definition"]
    return found


def substitute(asl: Asl, values: dict[str, str]) -> Asl:
    """The definition with placeholders replaced, as Step Functions receives it."""
    text = json.dumps(asl)
    for name in SUBSTITUTIONS:
        text = text.replace("${" + name + "}", values[name])
    result: Asl = json.loads(text)
    return result
