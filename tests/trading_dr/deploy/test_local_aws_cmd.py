"""`--local` as a user runs it: one background local AWS whose state lasts across commands,
`local-aws --status` and `--stop`; each test in a state directory of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from tests.support.background import servers_of
from trading_dr.cli import cli, register_operating_commands
from trading_dr.local_aws import daemon

register_operating_commands()

STARTED = "started a background local AWS"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def stack_set_statuses(result: Result) -> dict[str, str]:
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout[result.stdout.index("{") :])["stack_sets"]
    return {row["stack_set"]: row["status"] for row in rows}


def test_local_state_lasts_across_commands_until_stopped(background_state: Path) -> None:
    # GIVEN dev deployed by one --local command
    deployed = invoke("deploy", "--env", "dev", "--local", "--output", "json")
    assert deployed.exit_code == 0, deployed.output
    assert deployed.stderr.count(STARTED) == 1
    (first,) = servers_of(background_state)

    # WHEN other --local commands look at it
    status = invoke("status", "--env", "dev", "--local", "--output", "json")
    failover = invoke("failover", "--drill", "--env", "dev", "--local")

    # THEN they find what the first deployed, on the same server, without another start
    assert set(stack_set_statuses(status).values()) == {"ACTIVE"}
    assert STARTED not in status.stderr
    assert "deploy first" not in failover.output
    assert "started planned failover: arn:aws:states:us-east-2:222222222222:" in failover.stdout
    shown = invoke("local-aws", "--status")
    assert shown.exit_code == 0
    assert "background local AWS running at http://127.0.0.1:" in shown.stdout
    assert f"(pid {first}," in shown.stdout
    assert servers_of(background_state) == [first]

    # WHEN it is stopped
    stopped = invoke("local-aws", "--stop")

    # THEN it is gone, and the next --local command starts a fresh one with nothing deployed
    assert stopped.exit_code == 0
    assert "stopped the background local AWS at http://127.0.0.1:" in stopped.stdout
    assert servers_of(background_state) == []
    assert invoke("local-aws", "--status").exit_code == 1
    fresh = invoke("status", "--env", "dev", "--local", "--output", "json")
    assert fresh.stderr.count(STARTED) == 1
    assert set(stack_set_statuses(fresh).values()) == {"ABSENT"}
    (second,) = servers_of(background_state)
    assert second != first
    assert invoke("local-aws", "--stop").exit_code == 0
    assert servers_of(background_state) == []


def test_status_and_stop_with_no_background_server(background_state: Path) -> None:
    shown = invoke("local-aws", "--status")
    assert (shown.exit_code, shown.stdout) == (
        1,
        "no background local AWS running (a --local command starts one)\n",
    )
    stopped = invoke("local-aws", "--stop")
    assert (stopped.exit_code, stopped.stdout) == (0, "no background local AWS running\n")
    assert not background_state.exists()  # asking creates nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stop", "--status"], "error: --stop and --status exclude each other; fix:"),
        (["--stop", "--port", "4566"], "error: --port applies to the foreground local AWS"),
        (["--status", "--port", "0"], "error: --port applies to the foreground local AWS"),
    ],
)
def test_conflicting_local_aws_options_are_refused(
    background_state: Path, args: list[str], message: str
) -> None:
    result = invoke("local-aws", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_an_environment_the_server_lacks_is_refused_with_the_fix(background_state: Path) -> None:
    # GIVEN a background server that lacks dev's pre-existing zone (e.g. an environment
    # file added after it started)
    server = daemon.ensure_running(lambda _: None)
    route53: Any = boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("route53", endpoint_url=server.endpoint_url)

    def as_dev_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = "222222222222"

    route53.meta.events.register("before-sign.*.*", as_dev_account)
    route53.delete_hosted_zone(Id="Z0DEVEXAMPLE12345")

    # WHEN a --local command acts on dev
    result = invoke("status", "--env", "dev", "--local")

    # THEN it stops before acting, naming the zone and how to get a server that has it
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: the background local AWS has no hosted zone Z0DEVEXAMPLE12345"
    )
    assert "fix: `trading-dr local-aws --stop`, then retry" in result.stderr


def test_failover_through_local_during_an_outage_cut_by_the_command(
    background_state: Path,
) -> None:
    # GIVEN dev deployed into the background local AWS, then us-east-1 cut by the command
    deployed = invoke("deploy", "--env", "dev", "--local")
    assert deployed.exit_code == 0, deployed.output
    cut = invoke("local-aws", "--region-down", "us-east-1")
    assert cut.stdout.strip().endswith("regions down: us-east-1"), cut.output

    # WHEN the operator fails over with --local
    failover = invoke("failover", "--yes", "--env", "dev", "--local")
    again = invoke("failover", "--drill", "--env", "dev", "--local")

    # THEN it ran the deployed workflow from us-east-2 alone: nothing asked us-east-1
    # (Route 53's us-east-1 endpoint included) and the writer moved
    assert failover.exit_code == 0, failover.output
    assert "failover (unplanned) SUCCEEDED" in failover.stdout
    assert "no change: the writer is already in us-east-2" in again.stdout, again.output
    restored = invoke("local-aws", "--region-up", "us-east-1")
    assert restored.stdout.strip().endswith("regions down: none")
