"""The failover workflow: its template resources, and the generated ASL executed in moto.

The executions run the definition exactly as rendered into the secondary's template, with
its DefinitionSubstitutions resolved to resources created in moto: a global cluster with
members in us-east-1 (writer) and us-east-2, the validator function (moto's simple Lambda,
answering from a queue of results), the alarm topic (subscribed by an SQS queue so the test
reads what was notified) and the fence alarm. trading_dr/local_aws/global_failover.py adds Aurora's
global failover and switchover to moto and makes Wait states instant. What moto cannot show:
IAM evaluation, real promotion timing, Route 53 reacting to the alarm.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import DefaultConfig

from tests.support.assertions import policy_statements, walk
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role
from trading_dr.local_aws.global_failover import FailoverControl, local_failover
from trading_dr.resources.failover import asl, recovery, run, workflow
from trading_dr.resources.vocabulary.context import StackContext
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
    definition = json.dumps(asl.definition_of(_machine(env, role)))
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
    # The global cluster and BOTH members (the Service Authorization Reference lists
    # global-cluster* and cluster*): this region's, and the peer's by its known name.
    global_arn, here, peer = statements["PromoteThisRegion"]["Resource"]
    assert "global-cluster:${Id}" in global_arn["Fn::Sub"][0]
    assert here == {"Fn::GetAtt": ["DbCluster", "DBClusterArn"]}
    ctx = StackContext(environment(env), role)
    assert peer == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:rds:{ctx.peer_region}:${{AWS::AccountId}}:"
        f"cluster:trading-{ctx.env.suffix}-db-{ctx.peer_region}"
    }
    assert statements["PublishFence"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "TradingDR/Fence"}
    }
    actions = {a for s in statements.values() for a in s["Action"]}
    assert not any(a.startswith("route53:") for a in actions)
    assert "cloudwatch:SetAlarmState" not in actions
    assert statements["ReleaseLock"]["Action"] == ["ssm:DeleteParameter"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_no_state_machine_or_role_can_set_alarm_state(env: str, role: Role) -> None:
    """Route 53 follows an alarm's metric data, not its state: SetAlarmState cannot move
    traffic, so nothing may rely on it."""
    text = json.dumps(template(env, role))
    assert "SetAlarmState" not in text
    assert "setAlarmState" not in text


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_only_the_workflow_and_its_publisher_may_write_the_fence_namespace(
    env: str, role: Role
) -> None:
    writers = set()
    for name, statement in policy_statements(template(env, role)):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not any(
            a in {"cloudwatch:PutMetricData", "cloudwatch:*", "*"} for a in actions
        ):
            continue
        namespace = (
            statement.get("Condition", {}).get("StringEquals", {}).get("cloudwatch:namespace")
        )
        # Every PutMetricData grant names exactly one namespace.
        assert isinstance(namespace, str), (name, statement)
        if namespace == "TradingDR/Fence":
            writers.add(name)
    assert writers == {"FailoverRole", "ValidatorFunctionRole"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_logs_tracing_and_trigger(env: str, role: Role) -> None:
    props = _machine(env, role)
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert set(props["DefinitionSubstitutions"]) == set(asl.SUBSTITUTIONS)
    rule = template(env, role)["Resources"]["FailoverTriggerRule"]["Properties"]
    # Both vantage points must agree (tests/trading_dr/resources/test_quorum.py).
    assert rule["EventPattern"]["resources"] == [{"Fn::GetAtt": ["PeerDownQuorumAlarm", "Arn"]}]
    assert json.loads(rule["Targets"][0]["Input"])["mode"] == "unplanned"
    expected = "ENABLED" if REGIONAL_PROFILES[role].start_failover_on_peer_unhealthy else "DISABLED"
    assert rule["State"] == expected
    assert (rule["State"] == "ENABLED") is (role is Role.SECONDARY)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_task_retries_throttling_and_is_caught(env: str) -> None:
    states = asl.definition_of(_machine(env, Role.SECONDARY))["States"]
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    assert {"FailoverGlobalCluster", "SwitchoverGlobalCluster", "ValidateReadiness"} <= set(tasks)
    for name, state in tasks.items():
        assert state["Retry"][0]["BackoffRate"] > 1, name
        # The last catch takes everything; a task may catch one named error before it.
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        assert state["TimeoutSeconds"] > 0, name
        handler = state["Catch"][-1]["Next"]
        if name not in {"NotifyFailure", "ReleaseLockAfterFailure"}:
            assert states[handler]["Parameters"]["state"] == name
            assert states[handler]["Next"] == "ReleaseLockOnFailure"
    failover_params = states["FailoverGlobalCluster"]["Parameters"]
    assert failover_params["AllowDataLoss"] is True
    assert "AllowDataLoss" not in states["SwitchoverGlobalCluster"]["Parameters"]
    assert tasks["FailoverGlobalCluster"]["Resource"].endswith("aws-sdk:rds:failoverGlobalCluster")


# -- executions ----------------------------------------------------------------------------


FENCE_PARAMETER = "/trading/prod/secondary/failover/fence"
LOCK_PARAMETER = "/trading/prod/secondary/failover/lock"
UNDO = "trading-dr failover --release --env prod --to secondary"


@dataclass
class World:
    sfn: Any
    machine_arn: str
    sqs: Any
    queue_url: str
    cloudwatch: Any
    ssm: Any
    topic_arn: str
    primary_arn: str
    secondary_arn: str
    control: FailoverControl

    def start(self, payload: dict[str, Any]) -> str:
        arn: str = self.sfn.start_execution(
            stateMachineArn=self.machine_arn, name=uuid.uuid4().hex, input=json.dumps(payload)
        )["executionArn"]
        return arn

    def wait(self, arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if result["status"] != "RUNNING":
                return result
            time.sleep(0.02)
        raise AssertionError("execution did not finish in 30 s")

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.wait(self.start(payload))

    def notifications(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def fence_values(self) -> list[float]:
        stats = self.cloudwatch.get_metric_statistics(
            Namespace="TradingDR/Fence",
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

    def parameter(self, name: str) -> str | None:
        try:
            value: str = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        return value

    def hold_lock(self) -> str:
        """A RUNNING execution holding the lock: it waits for a task token nobody sends."""
        holder = self.sfn.create_state_machine(
            name="lock-holder",
            roleArn="arn:aws:iam::123456789012:role/workflow",
            definition=json.dumps(
                {
                    "StartAt": "Hold",
                    "States": {
                        "Hold": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                            "Parameters": {
                                "TopicArn": self.topic_arn,
                                "Message.$": "$$.Task.Token",
                            },
                            "End": True,
                        }
                    },
                }
            ),
        )["stateMachineArn"]
        arn: str = self.sfn.start_execution(stateMachineArn=holder)["executionArn"]
        self.ssm.put_parameter(Name=LOCK_PARAMETER, Value=arn, Type="String")
        deadline = time.monotonic() + 10
        while not self.notifications():  # the holder's token message, so it is waiting
            assert time.monotonic() < deadline, "the lock holder never started waiting"
            time.sleep(0.02)
        return arn


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
    props = _machine("prod", Role.SECONDARY)
    substitutions = props["DefinitionSubstitutions"]
    assert substitutions["FenceParameter"] == FENCE_PARAMETER
    assert substitutions["LockParameter"] == LOCK_PARAMETER
    definition = asl.substitute(
        asl.definition_of(props),
        {
            "ValidatorFunctionArn": validator,
            "GlobalClusterId": GLOBAL_ID,
            "TargetClusterArn": secondary,
            "TopicArn": topic,
            "FenceParameter": FENCE_PARAMETER,
            "LockParameter": LOCK_PARAMETER,
        },
    )
    sfn = boto3.client("stepfunctions", SECONDARY)
    machine = sfn.create_state_machine(
        name=props["StateMachineName"], definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    return World(
        sfn, machine, sqs, queue_url, cloudwatch, boto3.client("ssm", SECONDARY), topic,
        primary, secondary, control,
    )  # fmt: skip


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
    # The durable fence, which the validator republishes every minute.
    assert world.parameter(FENCE_PARAMETER) == recovery.FENCE_SET
    assert world.parameter(LOCK_PARAMETER) is None
    (note,) = world.notifications()
    assert note["Subject"] == "trading-dr prod: us-east-2 workflow succeeded"
    assert "(unplanned mode)" in note["Message"]
    assert UNDO in note["Message"]


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
    # One look before (is the writer here already?), then three polls: two saw the
    # switchover in progress and waited one interval each.
    assert world.control.describe_calls == 4
    assert world.control.waits_s == [recovery.POLL_INTERVAL_S] * 2
    output = json.loads(result["output"])
    assert output["cluster"]["status"] == "available"


def test_writer_already_here_succeeds_without_changes(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, SERVING)
    assert world.run({"mode": "planned"})["status"] == "SUCCEEDED"
    world.notifications()
    # Again, as a drill's trigger or a second operator would: nothing to do.
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "SUCCEEDED", result
    assert len(world.control.calls) == 1
    assert json.loads(result["output"])["result"]["outcome"].startswith("no change")
    (note,) = world.notifications()
    assert "no change: the writer is already in us-east-2" in note["Message"]
    assert "FAILED" not in note["Subject"]
    assert world.parameter(LOCK_PARAMETER) is None


def test_a_second_run_stops_while_another_holds_the_lock(world: World) -> None:
    holder = world.hold_lock()
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "SUCCEEDED", result
    outcome = json.loads(result["output"])["result"]["outcome"]
    assert outcome == f"stopped without changes: {holder} is already running in us-east-2"
    assert world.control.calls == []
    assert world.control.describe_calls == 0
    assert world.fence_values() == []
    # It neither pages nor takes the other run's lock away.
    assert world.notifications() == []
    assert world.parameter(LOCK_PARAMETER) == holder


def test_a_lock_left_by_an_ended_run_is_taken_over(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, SERVING)
    ended = world.run({"mode": "release"})["executionArn"]
    world.notifications()
    world.ssm.put_parameter(Name=LOCK_PARAMETER, Value=ended, Type="String")
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "SUCCEEDED", result
    assert world.control.writer_arn(GLOBAL_ID) == world.secondary_arn
    assert world.parameter(LOCK_PARAMETER) is None


def test_readiness_failing_promotes_nothing_and_notifies(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, {"ready": False, "failed": ["last_known_lag"]})
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    assert result["error"] == "FailoverFailed"
    assert world.control.calls == []
    assert world.control.writer_arn(GLOBAL_ID) == world.primary_arn
    assert world.fence_values() == []
    assert world.parameter(FENCE_PARAMETER) is None
    assert world.parameter(LOCK_PARAMETER) is None
    (note,) = world.notifications()
    assert "FAILED" in note["Subject"]
    assert "failed in state ValidateReadiness: ReadinessFailed" in note["Message"]
    assert "last_known_lag" in note["Message"]
    assert f"Left behind: fence unchanged. To undo: {run.NOTHING_TO_UNDO}." in (note["Message"])


@pytest.mark.parametrize("world", [{"reject_promotion": True}], indirect=True)
def test_promotion_failing_says_the_fence_is_left_and_how_to_undo_it(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    assert len(world.control.calls) == 1
    assert world.control.writer_arn(GLOBAL_ID) == world.primary_arn
    (note,) = world.notifications()
    assert "failed in state FailoverGlobalCluster" in note["Message"]
    assert "InvalidGlobalClusterStateFault" in note["Message"]
    # The fence was set before the promotion: the notification says so and how to undo.
    assert world.fence_values() == [1.0]
    assert world.parameter(FENCE_PARAMETER) == recovery.FENCE_SET
    assert (
        "Left behind: fence set: us-east-1 is fenced out of DNS by us-east-2." in (note["Message"])
    )
    assert f"To undo: {UNDO}." in note["Message"]
    assert world.parameter(LOCK_PARAMETER) is None


@pytest.mark.parametrize("world", [{"stall": True}], indirect=True)
def test_writer_poll_times_out(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    assert world.control.describe_calls == recovery.MAX_WRITER_POLLS + 1
    assert world.control.waits_s == [recovery.POLL_INTERVAL_S] * (recovery.MAX_WRITER_POLLS - 1)
    assert world.control.writer_arn(GLOBAL_ID) == world.primary_arn
    (note,) = world.notifications()
    assert "failed in state WaitForWriter: WriterPollTimeout" in note["Message"]
    assert "failing-over" in note["Message"]
    assert f"To undo: {UNDO}." in note["Message"]


def test_region_that_does_not_serve_fails_verification(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, {"serving": False, "detail": {"status": 503}})
    result = world.run({"mode": "unplanned"})
    assert result["status"] == "FAILED"
    (note,) = world.notifications()
    assert "failed in state VerifyServes: NotServing" in note["Message"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"mode": "sideways"}, {"mode": "unplanned", "accept_data_loss": "yes"}],
    ids=["no-mode", "unknown-mode", "accept-flag-not-boolean"],
)
def test_invalid_input_is_refused(world: World, payload: dict[str, Any]) -> None:
    world.ssm.put_parameter(Name=LOCK_PARAMETER, Value="someone else's", Type="String")
    result = world.run(payload)
    assert result["status"] == "FAILED"
    assert world.control.calls == []
    (note,) = world.notifications()
    assert "failed in state CheckInput: InvalidInput" in note["Message"]
    # A refused run never held the lock, so it must not delete it.
    assert world.parameter(LOCK_PARAMETER) == "someone else's"


def test_the_accept_flag_reaches_readiness(world: World) -> None:
    world.control.queue_lambda_result(SECONDARY, READY)
    world.control.queue_lambda_result(SECONDARY, SERVING)
    result = world.run({"mode": "unplanned", "accept_data_loss": True})
    assert result["status"] == "SUCCEEDED", result
    history = world.sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    scheduled = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in history
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resourceType"] == "lambda"
    ]
    assert scheduled[0]["Payload"]["accept_data_loss"] is True


def test_release_lifts_the_fence_for_a_failback(world: World) -> None:
    world.ssm.put_parameter(Name=FENCE_PARAMETER, Value=recovery.FENCE_SET, Type="String")
    result = world.run({"mode": "release"})
    assert result["status"] == "SUCCEEDED", result
    assert world.fence_values() == [0.0]
    assert world.parameter(FENCE_PARAMETER) == recovery.FENCE_RELEASED
    assert world.control.calls == []
    assert world.parameter(LOCK_PARAMETER) is None


def test_every_state_is_reachable_in_the_generated_definition() -> None:
    from trading_dr.resources.vocabulary.context import StackContext

    asl = workflow.definition(StackContext(environment("prod"), Role.SECONDARY))
    targets = {asl["StartAt"]}
    for node in walk(asl["States"]):
        if isinstance(node, dict):
            for key in ("Next", "Default"):
                if isinstance(node.get(key), str):
                    targets.add(node[key])
    assert targets == set(asl["States"])
