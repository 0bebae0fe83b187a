"""The failover workflow: its template resources, and the generated ASL executed in moto.

The executions run the definition exactly as rendered into the secondary's template, with
its DefinitionSubstitutions resolved to resources created in moto: a global cluster with
members in us-east-1 (writer) and us-east-2, the validator function (moto's simple Lambda,
answering from a queue of results), the alarm topic (subscribed by an SQS queue so the test
reads what was notified) and the fence alarm. tests/support/local_failover.py adds Aurora's
global failover and switchover to moto and makes Wait states instant. What moto cannot show:
IAM evaluation, real promotion timing, Route 53 reacting to the alarm.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import DefaultConfig

from tests.support.assertions import policy_statements, walk
from tests.support.local_failover import FailoverControl, local_failover
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr import failover
from trading_dr.config import Role
from trading_dr.stacks import REGIONAL_PROFILES

PRIMARY, SECONDARY = "us-east-1", "us-east-2"
MOTO: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
GLOBAL_ID = "trading-prod-global"
FORBIDDEN = ("route53:ChangeResourceRecordSets", "route53:UpdateHealthCheck")
READY = {"ready": True, "failed": []}
SERVING = {"serving": True, "detail": {"status": 200}}


def _machine(env: str, role: Role) -> dict[str, Any]:
    props: dict[str, Any] = template(env, role)["Resources"]["FailoverStateMachine"]["Properties"]
    return props


# -- template ------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_no_route53_control_plane_call_anywhere(env: str, role: Role) -> None:
    text = json.dumps(template(env, role))
    for action in FORBIDDEN:
        assert action not in text
    definition = json.dumps(_machine(env, role)["Definition"])
    assert "route53" not in definition.lower()


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_workflow_role_is_least_privilege(env: str, role: Role) -> None:
    statements = {
        s["Sid"]: s
        for name, s in policy_statements(template(env, role))
        if name == "FailoverRole" and "Sid" in s  # the trust policy has none
    }
    assert statements["PromoteThisRegion"]["Action"] == [
        "rds:FailoverGlobalCluster",
        "rds:SwitchoverGlobalCluster",
    ]
    # Only the global cluster and this region's member: nothing else can be promoted.
    assert statements["PromoteThisRegion"]["Resource"][1] == {
        "Fn::GetAtt": ["DbCluster", "DBClusterArn"]
    }
    assert statements["PublishFence"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "TradingDR"}
    }
    assert statements["ForceFenceAlarm"]["Resource"] == [{"Fn::GetAtt": ["FenceAlarm", "Arn"]}]
    actions = {a for s in statements.values() for a in s["Action"]}
    assert not any(a.startswith("route53:") for a in actions)


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_logs_tracing_and_trigger(env: str, role: Role) -> None:
    props = _machine(env, role)
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert set(props["DefinitionSubstitutions"]) == set(failover.SUBSTITUTIONS)
    rule = template(env, role)["Resources"]["FailoverTriggerRule"]["Properties"]
    assert rule["EventPattern"]["resources"] == [{"Fn::GetAtt": ["PeerUnhealthyAlarm", "Arn"]}]
    assert json.loads(rule["Targets"][0]["Input"])["mode"] == "unplanned"
    expected = "ENABLED" if REGIONAL_PROFILES[role].start_failover_on_peer_unhealthy else "DISABLED"
    assert rule["State"] == expected
    assert (rule["State"] == "ENABLED") is (role is Role.SECONDARY)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_task_retries_throttling_and_is_caught(env: str) -> None:
    states = _machine(env, Role.SECONDARY)["Definition"]["States"]
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    assert {"FailoverGlobalCluster", "SwitchoverGlobalCluster", "ValidateReadiness"} <= set(tasks)
    for name, state in tasks.items():
        assert state["Retry"][0]["BackoffRate"] > 1, name
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], name
        assert state["TimeoutSeconds"] > 0, name
        handler = state["Catch"][0]["Next"]
        if name != "NotifyFailure":
            assert states[handler]["Parameters"]["state"] == name
            assert states[handler]["Next"] == "NotifyFailure"
    failover_params = states["FailoverGlobalCluster"]["Parameters"]
    assert failover_params["AllowDataLoss"] is True
    assert "AllowDataLoss" not in states["SwitchoverGlobalCluster"]["Parameters"]
    assert tasks["FailoverGlobalCluster"]["Resource"].endswith("aws-sdk:rds:failoverGlobalCluster")


# -- executions ----------------------------------------------------------------------------


@dataclass
class World:
    sfn: Any
    machine_arn: str
    sqs: Any
    queue_url: str
    cloudwatch: Any
    primary_arn: str
    secondary_arn: str
    control: FailoverControl

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=self.machine_arn, input=json.dumps(payload))[
            "executionArn"
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if result["status"] != "RUNNING":
                return result
            time.sleep(0.02)
        raise AssertionError("execution did not finish in 30 s")

    def notifications(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def fence_values(self) -> list[float]:
        stats = self.cloudwatch.get_metric_statistics(
            Namespace="TradingDR",
            MetricName="PeerFenced",
            Dimensions=[
                {"Name": "Environment", "Value": "prod"},
                {"Name": "FencedRegion", "Value": PRIMARY},
            ],
            StartTime=time.time() - 600,
            EndTime=time.time() + 600,
            Period=60,
            Statistics=["Maximum"],
        )
        return [p["Maximum"] for p in stats["Datapoints"]]

    def fence_alarm_state(self) -> str:
        alarms = self.cloudwatch.describe_alarms(AlarmNames=["trading-prod-fence-us-east-1"])
        state: str = alarms["MetricAlarms"][0]["StateValue"]
        return state


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[World]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": SECONDARY,
    }.items():
        monkeypatch.setenv(name, value)
    knobs: dict[str, Any] = getattr(request, "param", {})
    with mock_aws(config=MOTO), local_failover(**knobs) as control:
        yield _build_world(control)


def _build_world(control: FailoverControl) -> World:
    rds1, rds2 = boto3.client("rds", PRIMARY), boto3.client("rds", SECONDARY)
    rds1.create_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, Engine="aurora-postgresql", EngineVersion="16.6"
    )
    common: dict[str, Any] = {"Engine": "aurora-postgresql", "EngineVersion": "16.6"}
    primary = rds1.create_db_cluster(
        DBClusterIdentifier="trading-prod-db", GlobalClusterIdentifier=GLOBAL_ID,
        MasterUsername="trading_admin", MasterUserPassword="not-a-real-password", **common,
    )["DBCluster"]["DBClusterArn"]  # fmt: skip
    secondary = rds2.create_db_cluster(
        DBClusterIdentifier="trading-prod-db", GlobalClusterIdentifier=GLOBAL_ID, **common
    )["DBCluster"]["DBClusterArn"]
    role = boto3.client("iam").create_role(RoleName="workflow", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    validator = boto3.client("lambda", SECONDARY).create_function(
        FunctionName="trading-prod-validator", Runtime="python3.12", Role=role,
        Handler="validator_handler.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )["FunctionArn"]  # fmt: skip
    sns = boto3.client("sns", SECONDARY)
    topic = sns.create_topic(Name="trading-prod-alarms")["TopicArn"]
    sqs = boto3.client("sqs", SECONDARY)
    queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    cloudwatch = boto3.client("cloudwatch", SECONDARY)
    # The fence alarm as routing.py declares it, read back from the rendered template.
    alarm = template("prod", Role.SECONDARY)["Resources"]["FenceAlarm"]["Properties"]
    cloudwatch.put_metric_alarm(
        **{k: v for k, v in alarm.items() if k not in {"AlarmActions", "OKActions"}}
    )
    props = _machine("prod", Role.SECONDARY)
    definition = failover.substitute(
        props["Definition"],
        {
            "ValidatorFunctionArn": validator,
            "GlobalClusterId": GLOBAL_ID,
            "TargetClusterArn": secondary,
            "TopicArn": topic,
            "FenceAlarmName": alarm["AlarmName"],
        },
    )
    sfn = boto3.client("stepfunctions", SECONDARY)
    machine = sfn.create_state_machine(
        name=props["StateMachineName"], definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    return World(sfn, machine, sqs, queue_url, cloudwatch, primary, secondary, control)


def test_unplanned_failover_moves_the_writer_fences_and_notifies(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, SERVING)
    result = world.run({"mode": "unplanned", "trigger": "peer-unhealthy-alarm"})
    assert result["status"] == "SUCCEEDED", result
    assert world.control.writer_arn(GLOBAL_ID) == world.secondary_arn
    (call,) = world.control.calls
    assert call["action"] == "FailoverGlobalCluster"
    assert call["AllowDataLoss"] is True
    assert call["TargetDbClusterIdentifier"] == world.secondary_arn
    assert world.fence_values() == [1.0]
    assert world.fence_alarm_state() == "ALARM"
    (note,) = world.notifications()
    assert note["Subject"] == "trading-dr prod: us-east-2 workflow succeeded"
    assert "(unplanned mode)" in note["Message"]


@pytest.mark.parametrize("world", [{"complete_after_polls": 3}], indirect=True)
def test_planned_switchover_polls_until_the_writer_moves(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, SERVING)
    result = world.run({"mode": "planned"})
    assert result["status"] == "SUCCEEDED", result
    (call,) = world.control.calls
    assert call["action"] == "SwitchoverGlobalCluster"
    assert call["AllowDataLoss"] is False
    assert world.control.writer_arn(GLOBAL_ID) == world.secondary_arn
    # Three polls: two saw the switchover in progress and waited one interval each.
    assert world.control.describe_calls == 3
    assert world.control.waits_s == [failover.POLL_INTERVAL_S] * 2
    output = json.loads(result["output"])
    assert output["cluster"]["status"] == "available"


def test_readiness_failing_promotes_nothing_and_notifies(world: World) -> None:
    world.control.queue_lambda_result(
        SECONDARY, {"ready": False, "failed": ["sessions_replica_active"]}
    )
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    assert result["error"] == "FailoverFailed"
    assert world.control.calls == []
    assert world.control.writer_arn(GLOBAL_ID) == world.primary_arn
    assert world.fence_values() == []
    (note,) = world.notifications()
    assert "FAILED" in note["Subject"]
    assert "failed in state ValidateReadiness: ReadinessFailed" in note["Message"]
    assert "sessions_replica_active" in note["Message"]


@pytest.mark.parametrize("world", [{"reject_promotion": True}], indirect=True)
def test_promotion_failing_is_caught_and_notified(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    assert len(world.control.calls) == 1
    assert world.control.writer_arn(GLOBAL_ID) == world.primary_arn
    (note,) = world.notifications()
    assert "failed in state FailoverGlobalCluster" in note["Message"]
    assert "InvalidGlobalClusterStateFault" in note["Message"]
    # The old primary stays fenced: the datapoint was published before promotion.
    assert world.fence_values() == [1.0]


@pytest.mark.parametrize("world", [{"stall": True}], indirect=True)
def test_writer_poll_times_out(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    assert world.control.describe_calls == failover.MAX_WRITER_POLLS
    assert world.control.waits_s == [failover.POLL_INTERVAL_S] * (failover.MAX_WRITER_POLLS - 1)
    assert world.control.writer_arn(GLOBAL_ID) == world.primary_arn
    (note,) = world.notifications()
    assert "failed in state WaitForWriter: WriterPollTimeout" in note["Message"]
    assert "failing-over" in note["Message"]
    # Traffic was not moved to a region whose database is not the writer.
    assert world.fence_alarm_state() != "ALARM"


def test_region_that_does_not_serve_fails_verification(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, {"serving": False, "detail": {"status": 503}})
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    (note,) = world.notifications()
    assert "failed in state VerifyServes: NotServing" in note["Message"]


@pytest.mark.parametrize("payload", [{}, {"mode": "sideways"}])
def test_invalid_input_is_refused(world: World, payload: dict[str, Any]) -> None:
    result = world.run(payload)
    assert result["status"] == "FAILED"
    assert world.control.calls == []
    (note,) = world.notifications()
    assert "failed in state CheckInput: InvalidInput" in note["Message"]


def test_release_lifts_the_fence_for_a_failback(world: World) -> None:
    world.cloudwatch.set_alarm_state(
        AlarmName="trading-prod-fence-us-east-1", StateValue="ALARM", StateReason="fenced"
    )
    result = world.run({"mode": "release"})
    assert result["status"] == "SUCCEEDED", result
    assert world.fence_values() == [0.0]
    assert world.fence_alarm_state() == "OK"
    assert world.control.calls == []


def test_every_state_is_reachable_in_the_generated_definition() -> None:
    from trading_dr.context import StackContext

    asl = failover.definition(StackContext(environment("prod"), Role.SECONDARY))
    targets = {"CheckInput"}
    for node in walk(asl["States"]):
        if isinstance(node, dict):
            for key in ("Next", "Default"):
                if isinstance(node.get(key), str):
                    targets.add(node[key])
    assert targets == set(asl["States"])
