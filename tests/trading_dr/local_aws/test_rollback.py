"""A failed stack update rolls back as CloudFormation's does, and status says so
(issue 14 item 5): the next deploy, status and destroy work without a restart."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import MAX_UPDATE_ATTEMPTS

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.rollout import deploy
from trading_dr.deploy.status import status
from trading_dr.deploy.teardown import Protection, destroy
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

ACCOUNT, REGION = "111111111111", "us-east-1"


def renamed_key_and_a_failing_topic(files: dict[str, bytes]) -> dict[str, bytes]:
    """An update that deletes a resource (the key renamed: references follow) before
    another resource fails: what moto used to leave half-applied."""
    body = files["templates/primary.yaml"].replace(b"AlarmTopicKey", b"AlarmTopicKeyV2")
    template = yaml.safe_load(body)
    template["Resources"]["Broken"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    return {**files, "templates/primary.yaml": yaml.safe_dump(template).encode()}


def primary_stack() -> Any:
    (stack,) = [
        s
        for s in cloudformation_backends[ACCOUNT][REGION].stacks.values()
        if s.name.startswith("StackSet-trading-prod-primary-")
    ]
    return stack


def outputs_of(stack: Any) -> dict[str, Any]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.outputs or []}


def primary_row(dep: Any) -> dict[str, Any]:
    (row,) = [r for r in status(dep) if r["stack_set"] == "trading-prod-primary"]
    return row


@pytest.mark.parametrize(
    ("rollback_fault", "stack_status"),
    [(None, "UPDATE_ROLLBACK_COMPLETE"), ("AlarmTopic", "UPDATE_ROLLBACK_FAILED")],
)
def test_a_failed_update_rolls_back_and_the_next_deploy_works(
    local_aws: LocalAws,
    prod: Environment,
    prod_files: dict[str, bytes],
    rollback_fault: str | None,
    stack_status: str,
) -> None:
    # GIVEN a deployed platform
    assert deploy(make_deployment(local_aws, prod, prod_files))[-1].status == "updated"
    before = primary_stack()
    template_before, outputs_before = before.template, outputs_of(before)

    # WHEN an update deletes AlarmTopicKey, then fails on a new resource (and, in the
    # second case, the rollback's update of the topic back to the old key fails too, on
    # every attempt moto makes)
    faults.fail_resource("Broken", "injected: topic quota", action="create")
    if rollback_fault:
        faults.fail_resource(
            rollback_fault, "injected: throttled", MAX_UPDATE_ATTEMPTS - 1, action="update"
        )
    failing = make_deployment(local_aws, prod, renamed_key_and_a_failing_topic(prod_files))
    results = deploy(failing)

    # THEN the stage fails with the resource's reason; the stack is back on its previous
    # template and outputs, and status says what happened to it
    assert [r.name for r in results][-1] == "primary"
    assert results[-1].status == "failed"
    assert any("injected: topic quota" in reason for reason in results[-1].reasons)
    stack = primary_stack()
    assert stack.status == stack_status
    assert stack.template == template_before
    assert b"AlarmTopicKeyV2" not in stack.template.encode()
    assert outputs_of(stack) == outputs_before
    row = primary_row(failing)
    assert row["last_operation"]["status"] == "FAILED"
    (instance,) = row["instances"]
    assert (instance["status"], instance["stack_status"]) == ("OUTDATED", stack_status)

    # AND the next deploy of the good templates succeeds, status agrees, destroy works
    again = make_deployment(local_aws, prod, prod_files)
    assert [r.status for r in deploy(again)][2] == "updated"
    (instance,) = primary_row(again)["instances"]
    assert (instance["status"], instance["stack_status"]) == ("CURRENT", "UPDATE_COMPLETE")
    assert {r.status for r in destroy(again, Protection.RETAIN)} <= {"deleted", "retained"}
