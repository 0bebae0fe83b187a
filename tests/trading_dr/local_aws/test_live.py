"""The platform's machinery in the long-running local AWS: schedules, alarms, EventBridge.

`Live.tick(now)` is called directly with chosen times (the server's thread calls it every
10 s); metric data is published with explicit timestamps, so nothing here sleeps.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from tests.trading_dr.local_aws.test_aurora_global import ACCOUNT, client
from trading_dr.local_aws import faults
from trading_dr.local_aws.live import Live, rate_seconds
from trading_dr.local_aws.server import LocalAws

REGION = "us-east-1"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:probe"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "pages"}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": "on-quorum",
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "DefinitionString": PASS,
            },
        },
        "Down": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "peer-down",
                "Namespace": "T",
                "MetricName": "Up",
                "Dimensions": [{"Name": "Region", "Value": "x"}],
                "Statistic": "Maximum",
                "Period": 10,
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 3,
                "ComparisonOperator": "LessThanThreshold",
                "Threshold": 1,
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "Topic"}],
            },
        },
        "Quorum": {
            "Type": "AWS::CloudWatch::CompositeAlarm",
            "Properties": {"AlarmName": "quorum", "AlarmRule": 'ALARM("peer-down")'},
        },
        "Trigger": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "State": "ENABLED",
                "EventPattern": {
                    "source": ["aws.cloudwatch"],
                    "detail-type": ["CloudWatch Alarm State Change"],
                    "resources": [{"Fn::GetAtt": ["Quorum", "Arn"]}],
                    "detail": {"state": {"value": ["ALARM"]}},
                },
                "Targets": [
                    {
                        "Id": "workflow",
                        "Arn": {"Ref": "Machine"},
                        "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                        "Input": '{"mode": "unplanned"}',
                    }
                ],
            },
        },
        "Probe": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "State": "ENABLED",
                "ScheduleExpression": "rate(1 minute)",
                "Targets": [{"Id": "probe", "Arn": FUNCTION, "Input": '{"action": "probe"}'}],
            },
        },
    }
}


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
        ("cron(0 12 * * ? *)", None),
        ("rate(1 fortnight)", None),
    ],
)
def test_rate_seconds(expression: str, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds


class Invocations:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    def __call__(self, account: str, region: str, function: str, payload: str) -> None:
        self.calls.append((account, region, function, payload))


@pytest.fixture
def platform(local_aws: LocalAws) -> LocalAws:
    """GIVEN a stack with an alarm, a composite over it, a rule that starts a workflow when
    the composite alarms, and a probe scheduled every minute."""
    client(local_aws, "cloudformation", REGION).create_stack(
        StackName="platform", TemplateBody=yaml.safe_dump(TEMPLATE)
    )
    return local_aws


def publish(server: LocalAws, value: float, at: datetime) -> None:
    client(server, "cloudwatch", REGION).put_metric_data(
        Namespace="T",
        MetricData=[
            {
                "MetricName": "Up",
                "Dimensions": [{"Name": "Region", "Value": "x"}],
                "Value": value,
                "Timestamp": at,
                "StorageResolution": 1,
            }
        ],
    )


def executions(server: LocalAws) -> list[dict[str, Any]]:
    sfn = client(server, "stepfunctions", REGION)
    (machine,) = sfn.list_state_machines()["stateMachines"]
    found: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])[
        "executions"
    ]
    return found


def test_data_moves_the_alarms_and_the_rule_starts_the_workflow_once(platform: LocalAws) -> None:
    live = Live(invoke=Invocations())
    wall = datetime.now(UTC)
    now = wall.replace(second=wall.second - wall.second % 10, microsecond=0)  # a period's end
    for seconds in (5, 15, 25):  # healthy data, then nothing else
        publish(platform, 1, now - timedelta(seconds=seconds))
    live.tick(now)
    assert live.states[(ACCOUNT, REGION, "peer-down")] == "OK"
    assert live.states[(ACCOUNT, REGION, "quorum")] == "OK"
    assert executions(platform) == []

    # WHEN three 10 s periods breach
    later = now + timedelta(seconds=40)
    for seconds in (5, 15, 25):
        publish(platform, 0, later - timedelta(seconds=seconds))
    live.tick(later)
    # THEN both alarm, and the rule started the workflow with the target's input
    assert live.states[(ACCOUNT, REGION, "peer-down")] == "ALARM"
    assert live.states[(ACCOUNT, REGION, "quorum")] == "ALARM"
    (started,) = executions(platform)
    sfn = client(platform, "stepfunctions", REGION)
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {"mode": "unplanned"}

    # WHEN the state stays: no second start
    live.tick(later + timedelta(seconds=1))
    assert len(executions(platform)) == 1


def test_set_alarm_state_decides_nothing(platform: LocalAws) -> None:
    live = Live(invoke=Invocations())
    now = datetime.now(UTC)
    live.tick(now)  # no data at all: notBreaching keeps it OK
    cloudwatch = client(platform, "cloudwatch", REGION)
    cloudwatch.put_metric_alarm(  # a moto alarm of the same name, forced into ALARM
        AlarmName="peer-down", Namespace="T", MetricName="Up", Statistic="Maximum",
        Period=10, EvaluationPeriods=1, Threshold=1, ComparisonOperator="LessThanThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="peer-down", StateValue="ALARM", StateReason="forced")
    live.tick(now + timedelta(seconds=10))
    assert live.states[(ACCOUNT, REGION, "peer-down")] == "OK"
    assert executions(platform) == []


def test_a_schedule_runs_its_targets_once_per_period(platform: LocalAws) -> None:
    invocations = Invocations()
    live = Live(invoke=invocations)
    start = datetime.now(UTC)
    for offset in (0, 30, 59):  # first seen, then not yet due
        live.tick(start + timedelta(seconds=offset))
    assert invocations.calls == []
    live.tick(start + timedelta(seconds=60))
    live.tick(start + timedelta(seconds=61))
    assert invocations.calls == [(ACCOUNT, REGION, FUNCTION, '{"action": "probe"}')]
    live.tick(start + timedelta(seconds=121))
    assert len(invocations.calls) == 2


def test_a_region_that_is_down_runs_nothing(platform: LocalAws) -> None:
    invocations = Invocations()
    live = Live(invoke=invocations)
    faults.region_down(REGION)
    start = datetime.now(UTC)
    for offset in (0, 60, 120):
        live.tick(start + timedelta(seconds=offset))
    assert invocations.calls == []
    assert live.states == {}
