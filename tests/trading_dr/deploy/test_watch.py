"""Operations that take a while: stack events as they happen, the --timeout deadline,
Ctrl-C (stop or detach), and a re-run attaching to a running operation. The local AWS
keeps each operation RUNNING for a set time and releases its stack events over it."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner

from tests.trading_dr.local_aws.fixtures import FAST, make_deployment, use_account
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment
from trading_dr.deploy.rollout import deploy
from trading_dr.errors import OperationRunningError
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

register_operating_commands()


def operations(dep: Any, stack_set: str) -> list[dict[str, Any]]:
    cfn = dep.clients.client("cloudformation", "us-east-1")
    return list(cfn.list_stack_set_operations(StackSetName=stack_set)["Summaries"])


def test_stack_events_are_shown_while_the_operation_runs(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_operation_seconds(0.6)
    dep = make_deployment(local_aws, prod, prod_files)

    results = deploy(dep)

    assert results[-1].status == "updated"
    lines: list[str] = dep.progress.stream.getvalue().splitlines()  # type: ignore[attr-defined]
    primary = [line.split(maxsplit=3)[2:] for line in lines if " primary " in line]
    running = next(i for i, words in enumerate(primary) if words[0] == "running")
    done = next(i for i, words in enumerate(primary) if words[0] == "succeeded")
    shown = [words[1] for words in primary[running:done] if words[0] == "event"]
    # Events arrive between "running" and "succeeded", in order, each once.
    assert any("DataKey (AWS::KMS::Key) CREATE_COMPLETE" in line for line in shown), shown
    assert len(shown) == len(set(shown))
    assert len(shown) > 100  # ~130 resources, IN_PROGRESS and COMPLETE each


def test_timeout_leaves_the_operation_running_and_a_rerun_attaches(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN operations that take 6 s (the re-run must find it still running on a busy
    # machine) and a deadline 0.3 s away
    faults.set_operation_seconds(6.0)
    dep = make_deployment(local_aws, prod, prod_files)
    dep.deadline = time.monotonic() + 0.3

    # WHEN it deploys, it gives up at the deadline naming the fix; the operation goes on
    with pytest.raises(OperationRunningError, match="still RUNNING at the --timeout deadline"):
        deploy(dep)
    assert [op["Status"] for op in operations(dep, "trading-prod-global")] == ["RUNNING"]

    # AND a re-run attaches to it instead of starting another one
    faults.set_operation_seconds(0.0)
    again = make_deployment(local_aws, prod, prod_files)
    results = deploy(again)

    assert [(r.name, r.status) for r in results][:2] == [
        ("bootstrap", "unchanged"),
        ("global", "unchanged"),  # the attached operation created it
    ]
    assert results[-1].status == "updated"
    assert len(operations(again, "trading-prod-global")) == 1
    assert again.clients.counter.calls["CreateStackInstances"] == 3  # primary, secondary, observer
    assert "attaching" in again.progress.stream.getvalue()  # type: ignore[attr-defined]


class InterruptOnce:
    """A sleep whose first call is a Ctrl-C."""

    def __init__(self) -> None:
        self.interrupted = False

    def __call__(self, seconds: float) -> None:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        time.sleep(seconds)


def test_ctrl_c_then_stop_stops_the_operation(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_operation_seconds(0.5)
    asked: list[tuple[str, str]] = []
    dep = make_deployment(local_aws, prod, prod_files)
    dep.pacing = replace(FAST, sleep=InterruptOnce())

    def stop(stack_set: str, operation_id: str) -> str:
        asked.append((stack_set, operation_id))
        return "stop"

    dep.on_interrupt = stop

    results = deploy(dep)

    assert [(r.name, r.status) for r in results][-1] == ("global", "failed")
    assert asked == [("trading-prod-global", results[-1].operation_id)]
    assert dep.clients.counter.calls["StopStackSetOperation"] == 1
    assert [op["Status"] for op in operations(dep, "trading-prod-global")] == ["STOPPED"]
    assert "The operation was stopped by the user" in results[-1].reasons


def test_ctrl_c_then_detach_leaves_it_running(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_operation_seconds(1.0)
    dep = make_deployment(local_aws, prod, prod_files)
    dep.pacing = replace(FAST, sleep=InterruptOnce())
    dep.on_interrupt = lambda stack_set, op: "detach"

    with pytest.raises(OperationRunningError, match=r"detached from operation .* re-run"):
        deploy(dep)

    assert "StopStackSetOperation" not in dep.clients.counter.calls
    assert [op["Status"] for op in operations(dep, "trading-prod-global")] == ["RUNNING"]


def test_deploy_timeout_option_exits_1_with_the_fix(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_account(local_aws, "111111111111", monkeypatch)
    faults.set_operation_seconds(5.0)
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]

    result = CliRunner().invoke(
        cli, ["deploy", *endpoint, "--timeout", "0.5", "--skip-delegation-check"]
    )

    assert result.exit_code == 1, result.output
    assert "still RUNNING at the --timeout deadline" in result.stderr
    assert "fix: re-run the same command to attach to it" in result.stderr
