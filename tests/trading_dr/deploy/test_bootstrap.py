"""Bootstrap's execution role against the local AWS (issue 15 item 7, issue 10 item 3).

The role's permissions come from the handler permissions that the CloudFormation resource
schemas (shipped by cfn-lint) declare for each type in the templates, split into managed
policies under IAM's 6,144-character limit; bootstrap brings an existing role up to date
and `plan` shows what it would change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.aws import EXECUTION_ROLE
from trading_dr.deploy.bootstrap import execution_documents
from trading_dr.deploy.execution_policy import (
    POLICY_LIMIT,
    POLICY_PATH,
    handler_actions,
    required_actions,
    size,
)
from trading_dr.deploy.rollout import Rollout
from trading_dr.errors import PlanError
from trading_dr.local_aws.server import LocalAws

ACCOUNT = "111111111111"


def templates(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k.startswith("templates/")}


def granted(server: LocalAws, env: Environment, files: dict[str, bytes]) -> set[str]:
    """Every action the execution role's attached trading-dr policies allow."""
    iam = make_deployment(server, env, files).clients.client("iam", "us-east-1")
    actions: set[str] = set()
    attached = iam.list_attached_role_policies(RoleName=EXECUTION_ROLE, PathPrefix=POLICY_PATH)
    for policy in attached["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
        for statement in document["PolicyVersion"]["Document"]["Statement"]:
            actions.update(statement["Action"])
    return actions


@pytest.mark.parametrize(
    ("resource_type", "region", "needed"),
    [
        # Not in the type's name: what the issue found missing.
        (
            "AWS::DynamoDB::GlobalTable",
            "us-east-1",
            "application-autoscaling:RegisterScalableTarget",
        ),
        ("AWS::DynamoDB::GlobalTable", "us-east-1", "kms:CreateGrant"),
        ("AWS::Lambda::Function", "us-east-2", "iam:PassRole"),
        ("AWS::RDS::DBCluster", "us-east-1", "secretsmanager:CreateSecret"),
        ("AWS::Logs::LogGroup", "us-east-2", "logs:CreateLogGroup"),
    ],
)
def test_handler_permissions_come_from_the_resource_schemas(
    resource_type: str, region: str, needed: str
) -> None:
    assert needed in handler_actions(resource_type, region)


def test_an_unknown_type_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="no resource schema for AWS::Nope::Thing"):
        handler_actions("AWS::Nope::Thing", "us-east-1")


def test_policies_cover_every_type_and_fit_iams_limits(
    prod: Environment, prod_files: dict[str, bytes]
) -> None:
    documents = execution_documents(prod, templates(prod_files))
    actions = [a for d in documents.values() for a in d["Statement"][0]["Action"]]

    assert sorted(actions) == required_actions(
        templates(prod_files),
        {"global": "us-east-1", "primary": "us-east-1", "secondary": "us-east-2"},
    )
    assert len(actions) == len(set(actions))
    assert all(size(d) <= POLICY_LIMIT < 6_144 for d in documents.values())
    # One inline policy could not hold them (10,240 for all of a role's inline policies).
    assert sum(size(d) for d in documents.values()) > 10_240
    assert {"cloudformation:*", "s3:*", "sns:*"} <= set(actions)
    assert not [
        a
        for a in actions
        if a.endswith(":*") and a.split(":")[0] not in {"cloudformation", "s3", "sns"}
    ]


def test_bootstrap_grants_the_handler_permissions_and_is_idempotent(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = make_deployment(local_aws, prod, prod_files)
    first = Rollout(dep).bootstrap(apply=True)

    assert first.status == "created"
    assert "application-autoscaling:RegisterScalableTarget" in granted(local_aws, prod, prod_files)
    assert set(required_actions(templates(prod_files), {
        "global": "us-east-1", "primary": "us-east-1", "secondary": "us-east-2",
    })) == granted(local_aws, prod, prod_files)  # fmt: skip
    again = make_deployment(local_aws, prod, prod_files)
    assert Rollout(again).bootstrap(apply=False).status == "unchanged"
    assert Rollout(again).bootstrap(apply=True).status == "unchanged"
    assert not again.clients.counter.writes


def test_an_existing_role_is_brought_up_to_date_and_plan_shows_it(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN an account bootstrapped by the earlier version: inline `<service>:*` policy
    # derived from type names, without application-autoscaling
    dep = make_deployment(local_aws, prod, prod_files)
    Rollout(dep).bootstrap(apply=True)
    iam = dep.clients.client("iam", "us-east-1")
    for policy in iam.list_attached_role_policies(RoleName=EXECUTION_ROLE)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=EXECUTION_ROLE, PolicyArn=policy["PolicyArn"])
    old: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*", "rds:*"], "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName=EXECUTION_ROLE,
        PolicyName=f"{EXECUTION_ROLE}Policy",
        PolicyDocument=json.dumps(old),
    )
    # ...and one managed policy whose document lost an action
    first_arn = f"arn:aws:iam::{ACCOUNT}:policy/trading-dr/TradingDrStackSetExecution1"
    document = execution_documents(prod, templates(prod_files))["TradingDrStackSetExecution1"]
    dropped = document["Statement"][0]["Action"].pop()
    for _ in range(4):  # IAM keeps 5 versions: the update must make room
        iam.create_policy_version(
            PolicyArn=first_arn, PolicyDocument=json.dumps(document), SetAsDefault=True
        )

    # WHEN planning, THEN each change is listed and nothing is written
    planner = make_deployment(local_aws, prod, prod_files)
    planned = Rollout(planner).bootstrap(apply=False)
    assert planned.status == "update"
    assert (
        f"policy TradingDrStackSetExecution1 in {ACCOUNT}: update (+1 -0 actions)"
        in planned.reasons
    )
    assert (
        f"policy TradingDrStackSetExecution1 in {ACCOUNT}: attach to {EXECUTION_ROLE}"
        in planned.reasons
    )
    assert (
        f"inline policy {EXECUTION_ROLE}Policy in {ACCOUNT}: remove (replaced)" in planned.reasons
    )
    assert not planner.clients.counter.writes

    # WHEN bootstrapping, THEN the role holds exactly what the handlers need, once
    applied = Rollout(make_deployment(local_aws, prod, prod_files)).bootstrap(apply=True)
    assert applied.status == "created"
    assert dropped in granted(local_aws, prod, prod_files)
    assert "application-autoscaling:RegisterScalableTarget" in granted(local_aws, prod, prod_files)
    assert iam.list_role_policies(RoleName=EXECUTION_ROLE)["PolicyNames"] == []
    assert len(iam.list_policy_versions(PolicyArn=first_arn)["Versions"]) == 5
    assert (
        Rollout(make_deployment(local_aws, prod, prod_files)).bootstrap(apply=False).status
        == "unchanged"
    )
