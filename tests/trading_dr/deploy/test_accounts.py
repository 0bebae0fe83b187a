"""Single-account rollouts: more than one target account, or credentials of another
account, are refused before any write, with the fix."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.aws import CallCounter, Clients
from trading_dr.deploy.rollout import deploy, plan
from trading_dr.errors import UsageError
from trading_dr.local_aws.server import LocalAws


def test_two_target_accounts_are_refused_before_any_call(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    two = replace(prod, accounts=("111111111111", "222222222222"))
    dep = make_deployment(local_aws, two, prod_files)

    for command in (deploy, plan):
        with pytest.raises(UsageError) as refused:
            command(dep)
        message = str(refused.value)
        assert "targets 2 accounts (111111111111, 222222222222)" in message
        assert "multi-account rollouts are not supported" in message
        assert "fix: list one account per environment file" in message
    assert dep.clients.counter.total == 0


def test_credentials_of_another_account_are_refused_not_assumed(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN credentials of 999999999999 and an environment targeting 111111111111
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    dep = make_deployment(local_aws, prod, prod_files)
    dep.clients = Clients(
        session, local_aws.endpoint_url, CallCounter(), local_account="999999999999"
    )

    # WHEN it deploys
    with pytest.raises(UsageError) as refused:
        deploy(dep)

    # THEN it names both accounts and the fix, and no role was assumed or anything written
    assert str(refused.value) == (
        "the environment targets account 111111111111 but the credentials are of account "
        "999999999999; the deployer acts in the target account itself (no cross-account "
        "role); fix: use credentials of 111111111111 (--profile, or AWS_PROFILE)"
    )
    assert "AssumeRole" not in dep.clients.counter.calls
    assert dep.clients.counter.writes == {}
