"""Lambda concurrency preflight against the local AWS (issue 10 item 7).

The local AWS reports the account's regional limit through GetAccountSettings and refuses,
with AWS's message, a reservation that leaves fewer than 100 executions unreserved; `plan`
and `deploy` find the shortfall before anything is deployed.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment
from trading_dr.deploy.concurrency import check, reservations
from trading_dr.deploy.rollout import deploy, plan
from trading_dr.local_aws import faults
from trading_dr.local_aws.clients import client_in
from trading_dr.local_aws.server import LocalAws

register_operating_commands()

ACCOUNT = "111111111111"


def lambda_client(server: LocalAws, region: str, service: str = "lambda") -> Any:
    return client_in(service, ACCOUNT, region, endpoint_url=server.endpoint_url)


def function_role(server: LocalAws) -> str:
    iam = lambda_client(server, "us-east-1", "iam")
    return str(iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"])


def test_reservations_per_region_come_from_the_templates(
    prod: Environment, prod_files: dict[str, bytes]
) -> None:
    found = reservations(prod, prod_files)

    assert sum(found["us-east-1"].values()) == 127  # the writer region runs the migrator
    assert sum(found["us-east-2"].values()) == 126
    assert found["us-east-1"]["trading-prod-intake"] == 100


@pytest.mark.parametrize(
    ("limit", "short_east_1", "short_east_2"),
    [
        (1000, 0, 0),
        (227, 0, 0),  # exactly 127 + 100
        (226, 1, 0),
        (200, 27, 26),
        (10, 217, 216),  # a new account's limit
    ],
)
def test_plan_reports_each_regions_shortfall_with_the_fix(
    local_aws: LocalAws,
    prod: Environment,
    prod_files: dict[str, bytes],
    limit: int,
    short_east_1: int,
    short_east_2: int,
) -> None:
    faults.set_lambda_concurrency_limit(limit)
    dep = make_deployment(local_aws, prod, prod_files)

    shortfalls = {c.region: c.shortfall for c in check(dep.clients, dep.pacing, prod, prod_files)}
    results = plan(dep)

    # The observer's region too: its probe reserves 2 (and 100 must stay unreserved).
    short_west_2 = max(0, 2 + 100 - limit)
    assert shortfalls == {
        "us-east-1": short_east_1,
        "us-east-2": short_east_2,
        "us-west-2": short_west_2,
    }
    assert not dep.clients.counter.writes
    if not short_east_1:
        assert results[0].name == "bootstrap"
        return
    assert (results[0].name, results[0].status) == ("capacity", "failed")
    assert (
        f"short by {short_east_1}; fix: raise the Lambda 'Concurrent executions' quota in "
        f"us-east-1 to at least {limit + short_east_1}" in results[0].reasons[0]
    )


def test_deploy_stops_before_writing_anything(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_lambda_concurrency_limit(200)
    dep = make_deployment(local_aws, prod, prod_files)

    results = deploy(dep)

    assert [(r.name, r.status) for r in results] == [("capacity", "failed")]
    assert not dep.clients.counter.writes


def test_reservations_already_held_by_the_functions_count_as_available(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN the primary's functions deployed with their reservations, limit 227
    faults.set_lambda_concurrency_limit(227)
    client = lambda_client(local_aws, "us-east-1")
    role = function_role(local_aws)
    for name, reserved in reservations(prod, prod_files)["us-east-1"].items():
        client.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="h.h",
            Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        )  # fmt: skip
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    dep = make_deployment(local_aws, prod, prod_files)

    (east_1,) = [
        c for c in check(dep.clients, dep.pacing, prod, prod_files) if c.region == "us-east-1"
    ]

    assert (east_1.held, east_1.shortfall) == (127, 0)  # a redeploy needs nothing more


def test_the_local_aws_refuses_a_reservation_as_aws_does(local_aws: LocalAws) -> None:
    faults.set_lambda_concurrency_limit(150)
    client = lambda_client(local_aws, "us-east-2")
    client.create_function(
        FunctionName="f", Runtime="python3.12", Role=function_role(local_aws),
        Handler="h.h", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )  # fmt: skip

    client.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=50)
    with pytest.raises(ClientError, match="below its minimum value of \\[100\\]"):
        client.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=51)


def test_plan_command_exits_1_naming_the_fix(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    faults.set_lambda_concurrency_limit(10)

    result = CliRunner().invoke(cli, ["plan", "--endpoint-url", local_aws.endpoint_url])

    assert result.exit_code == 1, result.output
    assert "capacity" in result.stdout
    assert (
        "error: the accounts cannot hold the templates' reserved Lambda concurrency"
        in result.stderr
    )
    assert "quota code L-B99A9384" in result.stderr
