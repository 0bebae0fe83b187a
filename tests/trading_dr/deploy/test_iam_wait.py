"""The first deploy right after bootstrap, with IAM propagation delay (issue 15 item 6).

The local AWS makes a new role unusable for a while (`faults.set_iam_propagation_seconds`):
AssumeRole is refused and stack set operations fail with StackSets' message, as on a real
account; the deployer waits, bounded and with progress, before the first operation.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy import iam_wait
from trading_dr.deploy.aws import EXECUTION_ROLE
from trading_dr.deploy.rollout import Rollout, deploy
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{EXECUTION_ROLE}"
TRUST_MESSAGE = (
    f"Account {ACCOUNT} should have 'AWSCloudFormationStackSetExecutionRole' role with trust "
    "relationship to Role 'AWSCloudFormationStackSetAdministrationRole'."
)


def test_the_local_aws_delays_new_roles_as_iam_does(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_iam_propagation_seconds(60)
    dep = make_deployment(local_aws, prod, prod_files)
    Rollout(dep).bootstrap(apply=True)
    sts = dep.clients.client("sts", "us-east-1")
    cfn = dep.clients.client("cloudformation", "us-east-1")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cfn.create_stack_set(StackSetName="early", TemplateBody=json.dumps(template))

    with pytest.raises(ClientError, match="AccessDenied"):
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="check")
    operation = cfn.create_stack_instances(
        StackSetName="early", Accounts=[ACCOUNT], Regions=["us-east-1"]
    )["OperationId"]
    results = cfn.list_stack_set_operation_results(StackSetName="early", OperationId=operation)
    assert [r["StatusReason"] for r in results["Summaries"]] == [TRUST_MESSAGE]

    faults.set_iam_propagation_seconds(0.01)  # the same roles, once IAM has caught up
    time.sleep(0.02)
    sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="check")


def test_deploy_waits_for_the_new_roles_before_the_first_operation(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # Longer than bootstrap takes on a loaded machine, so the wait is seen.
    faults.set_iam_propagation_seconds(30)
    dep = make_deployment(local_aws, prod, prod_files)

    results = deploy(dep)

    assert [r.status for r in results][:3] == ["created", "created", "created"], results[1].reasons
    log = dep.progress.stream.getvalue()  # type: ignore[attr-defined]
    assert "IAM: 1 new role(s) not usable yet" in log
    assert "new roles usable after" in log
    assert log.index("new roles usable after") < log.index("global    checking")


def test_the_wait_is_bounded_and_says_what_to_do(
    local_aws: LocalAws,
    prod: Environment,
    prod_files: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faults.set_iam_propagation_seconds(600)
    monkeypatch.setattr(iam_wait, "BOUND_S", 0.3)
    dep = make_deployment(local_aws, prod, prod_files)

    results = deploy(dep)

    assert [(r.name, r.status) for r in results] == [("bootstrap", "failed")]
    assert "not usable after 0s" in results[0].reasons[0]
    assert "re-run deploy in a minute" in results[0].reasons[0]
    assert not [w for w in dep.clients.counter.writes if "StackSet" in w or "StackInstances" in w]


def test_no_wait_when_bootstrap_created_no_role(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    Rollout(make_deployment(local_aws, prod, prod_files)).bootstrap(apply=True)
    dep = make_deployment(local_aws, prod, prod_files)
    rollout = Rollout(dep)

    rollout.bootstrap(apply=True)

    assert rollout.new_roles == []  # deploy() waits only after creating a role
    assert dep.clients.counter.calls["AssumeRole"] == 0
