"""The migrate step's synchronous Invoke against the local AWS (issue 15 item 4).

The local AWS makes each invocation take wall time (`faults.set_lambda_duration`) and
ends one that outlasts the function's Timeout as AWS does (`Sandbox.Timedout`). Times are
shrunk (a 4 s function, a 2 s default read timeout standing in for botocore's 60 s) so
the test shows in seconds what a 300 s migration does against a 60 s read timeout.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy import aws, migrations
from trading_dr.deploy.aws import STATUS_INVOKE
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.rollout import Rollout
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

PENDING = {"status": "ok", "pending": ["0009_big_index"], "applied": []}
APPLIED = {"status": "ok", "applied": ["0009_big_index"], "already_applied": []}
FUNCTION_TIMEOUT_S = 4
DEFAULT_READ_S = 2  # botocore's 60 s, shrunk (a loaded 2-core machine needs 2 s)


def primary_with_migrate_function(server: LocalAws, env: Environment) -> None:
    """A primary stack set whose only resource is the migrate function (Timeout 3 s)."""
    dep = make_deployment(server, env, {})
    region = env.primary.region
    role = dep.clients.client("iam", region).create_role(
        RoleName="migrate", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    template: dict[str, Any] = {
        "Resources": {
            "MigrateFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "trading-prod-migrate",
                    "Handler": "migrate_handler.handler",
                    "Runtime": "python3.12",
                    "Role": role,
                    "Timeout": FUNCTION_TIMEOUT_S,
                    "Code": {"ZipFile": "def handler(event, context): pass"},
                },
            }
        },
        "Outputs": {"MigrateFunctionName": {"Value": {"Ref": "MigrateFunction"}}},
    }
    cfn = dep.clients.client("cloudformation", region)
    cfn.create_stack_set(StackSetName="trading-prod-primary", TemplateBody=json.dumps(template))
    cfn.create_stack_instances(
        StackSetName="trading-prod-primary", Accounts=env.accounts, Regions=[region]
    )


def with_read_timeout(
    server: LocalAws, env: Environment, monkeypatch: pytest.MonkeyPatch, seconds: int
) -> Deployment:
    """A deployment whose clients default to a `seconds` read timeout (botocore: 60 s)."""
    monkeypatch.setattr(aws, "DEFAULT_READ_TIMEOUT_S", seconds)
    return make_deployment(server, env, {})


def test_a_migration_longer_than_the_default_read_timeout_completes(
    local_aws: LocalAws, prod: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary_with_migrate_function(local_aws, prod)
    dep = with_read_timeout(local_aws, prod, monkeypatch, DEFAULT_READ_S)
    local_aws.queue_lambda_answers(prod.accounts[0], prod.primary.region, PENDING, APPLIED)
    faults.set_lambda_duration(3)  # longer than the 2 s default, within the function's 4 s

    result = Rollout(dep).migrate(apply=True)

    assert (result.status, result.outputs) == (
        "updated",
        {"applied": "111111111111:0009_big_index"},
    )
    calls = dep.clients.counter.calls
    assert (calls[STATUS_INVOKE], calls["Invoke"]) == (1, 1)


def test_a_migration_that_times_out_is_reported_once_and_not_retried(
    local_aws: LocalAws, prod: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary_with_migrate_function(local_aws, prod)
    dep = with_read_timeout(local_aws, prod, monkeypatch, DEFAULT_READ_S)
    local_aws.queue_lambda_answers(prod.accounts[0], prod.primary.region, PENDING)
    faults.set_lambda_duration(FUNCTION_TIMEOUT_S + 1)  # outlasts the function: AWS stops it

    result = Rollout(dep).migrate(apply=True)

    assert result.status == "failed"
    assert "Task timed out after 4.00 seconds" in result.reasons[0]
    assert dep.clients.counter.calls[STATUS_INVOKE] == 1


def test_a_read_timeout_is_a_clear_failure_not_a_retry(
    local_aws: LocalAws, prod: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that gives up before the function answers (as one would whose read timeout
    # is below the function's run time): the step fails with what to do; no second call.
    primary_with_migrate_function(local_aws, prod)
    monkeypatch.setattr(migrations, "INVOKE_MARGIN_S", DEFAULT_READ_S - FUNCTION_TIMEOUT_S)
    dep = make_deployment(local_aws, prod, {})
    local_aws.queue_lambda_answers(prod.accounts[0], prod.primary.region, PENDING, APPLIED)
    invoker = dep.clients.client(
        "lambda", prod.primary.region, prod.accounts[0], read_timeout=DEFAULT_READ_S
    )

    def slow_apply(params: dict[str, Any], **_: Any) -> None:
        if params.get("body") and b'"apply"' in params["body"]:
            faults.set_lambda_duration(3)

    invoker.meta.events.register("before-call.lambda.Invoke", slow_apply)

    result = Rollout(dep).migrate(apply=True)

    assert result.status == "failed"
    assert "no answer within the client's read timeout" in result.reasons[0]
    assert "may still be running" in result.reasons[0]
    calls = dep.clients.counter.calls
    assert (calls[STATUS_INVOKE], calls["Invoke"]) == (1, 1)
