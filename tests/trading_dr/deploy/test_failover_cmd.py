"""`trading-dr failover` through click against the local AWS, running the real workflow.

The state machine is the secondary template's own (rendered ASL, DefinitionSubstitutions
resolved to resources created here in moto: the Aurora global cluster and its members,
the validator function, the alarm topic, the fence alarm). moto's server executes it
(`execute_state_machine`; its tasks call back into the server on MOTO_PORT, as moto's
default account); trading_dr/local_aws/global_failover.py adds Aurora's global failover and
switchover to moto's RDS and makes Wait states instant. The command finds the machine
by name (no stack set here); the lookup through stack outputs is tested on its own.
"""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.trading_dr.local_aws.fixtures import FAST, session
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment, Role
from trading_dr.deploy.aws import CallCounter, Clients
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.failover_cmd import find_state_machine
from trading_dr.deploy.progress import PlainProgress
from trading_dr.local_aws.clients import client_in
from trading_dr.local_aws.global_failover import FailoverControl, local_failover
from trading_dr.local_aws.server import LocalAws
from trading_dr.resources.failover import asl, recovery

register_operating_commands()

PRIMARY, SECONDARY = "us-east-1", "us-east-2"
GLOBAL_ID = "trading-prod-global"
# The world lives in the environment's account, where the deployer would have put it; the
# command reaches it from moto's default account as it does any local AWS.
ENV_ACCOUNT = "111111111111"
READY = {"ready": True, "failed": []}
SERVING = {"serving": True, "detail": {"status": 200}}
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def client(server: LocalAws, service: str, region: str) -> Any:
    """A client acting in the environment's account (moto's account header)."""
    return client_in(service, ENV_ACCOUNT, region, endpoint_url=server.endpoint_url)


@pytest.fixture
def world(
    local_aws: LocalAws,
    prod_files: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[LocalAws, FailoverControl, str]]:
    """(server, failover control, secondary cluster ARN) with the workflow in us-east-2."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("MOTO_PORT", local_aws.endpoint_url.rsplit(":", 1)[1])
    configure = urllib.request.Request(
        f"{local_aws.endpoint_url}/moto-api/config",
        data=json.dumps(MOTO_CONFIG).encode(),
        method="POST",
    )
    with urllib.request.urlopen(configure, timeout=10):
        pass
    knobs: dict[str, Any] = getattr(request, "param", {})
    with local_failover(**knobs) as control:
        secondary = build_world(local_aws, prod_files)
        yield local_aws, control, secondary


def build_world(server: LocalAws, files: dict[str, bytes]) -> str:
    rds1, rds2 = client(server, "rds", PRIMARY), client(server, "rds", SECONDARY)
    rds1.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, Engine="aurora-postgresql")
    common: dict[str, Any] = {"Engine": "aurora-postgresql", "GlobalClusterIdentifier": GLOBAL_ID}
    rds1.create_db_cluster(
        DBClusterIdentifier="trading-prod-db", MasterUsername="trading_admin",
        MasterUserPassword="not-a-real-password", **common,
    )  # fmt: skip
    secondary = rds2.create_db_cluster(DBClusterIdentifier="trading-prod-db", **common)[
        "DBCluster"
    ]["DBClusterArn"]
    role = client(server, "iam", PRIMARY).create_role(
        RoleName="workflow", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    validator = client(server, "lambda", SECONDARY).create_function(
        FunctionName="trading-prod-validator", Runtime="python3.12", Role=role,
        Handler="validator_handler.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )["FunctionArn"]  # fmt: skip
    topic = client(server, "sns", SECONDARY).create_topic(Name="trading-prod-alarms")["TopicArn"]
    template = yaml.safe_load(files["templates/secondary.yaml"])["Resources"]
    machine = template["FailoverStateMachine"]["Properties"]
    definition = asl.substitute(
        asl.definition_of(machine),
        {
            "ValidatorFunctionArn": validator,
            "GlobalClusterId": GLOBAL_ID,
            "TargetClusterArn": secondary,
            "TopicArn": topic,
            **{
                name: machine["DefinitionSubstitutions"][name]
                for name in ("FenceParameter", "LockParameter")
            },
        },
    )
    client(server, "stepfunctions", SECONDARY).create_state_machine(
        name=machine["StateMachineName"], definition=json.dumps(definition), roleArn=role
    )
    return str(secondary)


def invoke(server: LocalAws, *args: str, stdin: str | None = None) -> Result:
    command = [*args, "--endpoint-url", server.endpoint_url, "--env", "prod"]
    return CliRunner().invoke(cli, command, input=stdin)


def test_drill_switches_over_and_prints_each_state(
    world: tuple[LocalAws, FailoverControl, str],
) -> None:
    server, control, secondary = world
    control.queue_lambda_result(SECONDARY, READY, ENV_ACCOUNT)
    control.queue_lambda_result(SECONDARY, SERVING, ENV_ACCOUNT)

    result = invoke(server, "failover", "--drill")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("started planned failover: arn:aws:states:us-east-2:")
    states = [line.split()[1:3] for line in lines[1:-1]]
    assert states[0] == ["started", "execution"]
    for name in ("ValidateReadiness", "SwitchoverGlobalCluster", "VerifyServes", "Done"):
        assert ["entered", name] in states
    assert states.index(["entered", "ValidateReadiness"]) < states.index(
        ["exited", "ValidateReadiness"]
    )
    assert "FailoverGlobalCluster" not in result.stdout
    assert lines[1].split()[0].endswith("Z")  # each line carries its UTC timestamp
    assert lines[-1].startswith("failover (planned) SUCCEEDED in ")
    (call,) = control.calls
    assert (call["action"], call["AllowDataLoss"]) == ("SwitchoverGlobalCluster", False)
    assert control.writer_arn(GLOBAL_ID, ENV_ACCOUNT) == secondary


def test_unplanned_needs_confirmation(world: tuple[LocalAws, FailoverControl, str]) -> None:
    server, control, secondary = world

    refused = invoke(server, "failover", stdin="n\n")
    not_interactive = invoke(server, "failover")

    for result in (refused, not_interactive):
        assert result.exit_code == 2, result.output
        assert "unplanned failover not confirmed" in result.stderr
    assert "AllowDataLoss. Continue?" in refused.stderr
    assert control.calls == []
    history = client(server, "stepfunctions", SECONDARY)
    machine = history.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    assert history.list_executions(stateMachineArn=machine)["executions"] == []

    control.queue_lambda_result(SECONDARY, READY, ENV_ACCOUNT)
    control.queue_lambda_result(SECONDARY, SERVING, ENV_ACCOUNT)
    confirmed = invoke(server, "failover", "--output", "json", stdin="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    body = json.loads(confirmed.stdout[confirmed.stdout.index("{") :])
    assert (body["status"], body["mode"], body["region"]) == ("SUCCEEDED", "unplanned", SECONDARY)
    assert {"timestamp", "kind", "state", "detail"} == set(body["events"][0])
    assert control.calls[0]["AllowDataLoss"] is True
    assert control.writer_arn(GLOBAL_ID, ENV_ACCOUNT) == secondary


@pytest.mark.parametrize("world", [{"reject_promotion": True}], indirect=True)
def test_failed_promotion_exits_1_with_state_and_cause(
    world: tuple[LocalAws, FailoverControl, str],
) -> None:
    server, control, secondary = world
    control.queue_lambda_result(SECONDARY, READY, ENV_ACCOUNT)

    result = invoke(server, "failover", "--yes")

    assert result.exit_code == 1, result.output
    assert "failover (unplanned) FAILED in state FailoverGlobalCluster" in result.stderr
    assert "InvalidGlobalClusterStateFault" in result.stderr
    assert any(
        line.split()[1:3] == ["entered", "NotifyFailure"] for line in result.stdout.splitlines()
    )
    assert control.writer_arn(GLOBAL_ID, ENV_ACCOUNT) != secondary


def test_release_lifts_the_fence_without_confirmation(
    world: tuple[LocalAws, FailoverControl, str],
) -> None:
    server, control, _ = world
    fence = "/trading/prod/secondary/failover/fence"
    ssm = client(server, "ssm", SECONDARY)
    ssm.put_parameter(Name=fence, Value=recovery.FENCE_SET, Type="String")

    result = invoke(server, "failover", "--release")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith(
        "fence of us-east-1 released; us-east-1 takes traffic when healthy"
    )
    assert ssm.get_parameter(Name=fence)["Parameter"]["Value"] == recovery.FENCE_RELEASED
    assert control.calls == []


def test_accept_data_loss_reaches_the_workflow(
    world: tuple[LocalAws, FailoverControl, str],
) -> None:
    server, control, _ = world
    control.queue_lambda_result(SECONDARY, READY, ENV_ACCOUNT)
    control.queue_lambda_result(SECONDARY, SERVING, ENV_ACCOUNT)

    result = invoke(server, "failover", "--yes", "--accept-data-loss", "--output", "json")

    assert result.exit_code == 0, result.output
    sfn = client(server, "stepfunctions", SECONDARY)
    arn = json.loads(result.stdout[result.stdout.index("{") :])["execution_arn"]
    assert json.loads(sfn.describe_execution(executionArn=arn)["input"]) == {
        "mode": "unplanned",
        "trigger": "trading-dr-cli",
        "accept_data_loss": True,
    }


@pytest.mark.parametrize(
    "args",
    [
        ("--release", "--drill"),
        ("--drill", "--accept-data-loss"),
        ("--release", "--accept-data-loss"),
    ],
)
def test_conflicting_flags_are_usage_errors(
    world: tuple[LocalAws, FailoverControl, str], args: tuple[str, ...]
) -> None:
    server, control, _ = world
    result = invoke(server, "failover", *args)
    assert result.exit_code == 2, result.output
    assert "fix:" in result.stderr
    assert control.calls == []


def test_state_machine_is_found_by_its_name_in_the_recovery_region_only(
    world: tuple[LocalAws, FailoverControl, str], prod: Environment, prod_files: dict[str, bytes]
) -> None:
    server = world[0]
    clients = Clients(
        session(), server.endpoint_url, CallCounter(), sts_region=SECONDARY,
        local_cross_account=True,
    )  # fmt: skip
    dep = Deployment(prod, prod_files, clients, FAST, PlainProgress(io.StringIO()))

    arn = find_state_machine(dep, Role.SECONDARY)

    # In the environment's account, reached from moto's default one through its role.
    assert arn == f"arn:aws:states:us-east-2:{ENV_ACCOUNT}:stateMachine:trading-prod-failover"
    # No stack set or stack read: nothing of the StackSets administration region.
    assert dict(clients.counter.calls) == {
        "GetCallerIdentity": 1,
        "AssumeRole": 1,
        "DescribeStateMachine": 1,
    }
    with pytest.raises(Exception, match="no failover workflow in us-east-1"):
        find_state_machine(dep, Role.PRIMARY)
