"""Quorum: the observer template and each region's alarms over its view.

What the templates must say: the failover workflow starts only on the composite of both
vantage points; one alone pages with the command; the observer publishes exactly what
the alarms read; only the observer may write its namespace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.assertions import policy_statements
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role

CASES = [(e, r) for e in ENVIRONMENTS for r in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]


def _props(env: str, role: Role, logical: str) -> dict[str, Any]:
    found: dict[str, Any] = template(env, role)["Resources"][logical]["Properties"]
    return found


def _peer(env: str, role: Role) -> str:
    other = Role.PRIMARY if role is Role.SECONDARY else Role.SECONDARY
    return environment(env).region_of(other)


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_the_workflow_starts_only_when_both_vantage_points_agree(env: str, role: Role) -> None:
    own = _props(env, role, "PeerUnhealthyAlarm")["AlarmName"]
    seen = _props(env, role, "ObserverSeesPeerDownAlarm")["AlarmName"]
    quorum = template(env, role)["Resources"]["PeerDownQuorumAlarm"]
    assert quorum["Type"] == "AWS::CloudWatch::CompositeAlarm"
    assert quorum["Properties"]["AlarmRule"] == f'ALARM("{own}") AND ALARM("{seen}")'
    rule = _props(env, role, "FailoverTriggerRule")
    assert rule["EventPattern"]["resources"] == [{"Fn::GetAtt": ["PeerDownQuorumAlarm", "Arn"]}]
    assert json.loads(rule["Targets"][0]["Input"])["mode"] == "unplanned"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_one_vantage_point_pages_with_the_exact_command(env: str, role: Role) -> None:
    own = _props(env, role, "PeerUnhealthyAlarm")["AlarmName"]
    seen = _props(env, role, "ObserverSeesPeerDownAlarm")["AlarmName"]
    one = _props(env, role, "PeerDownOneVantageAlarm")
    assert one["AlarmRule"] == (
        f'(ALARM("{own}") AND NOT ALARM("{seen}")) OR (ALARM("{seen}") AND NOT ALARM("{own}"))'
    )
    assert one["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert one["AlarmDescription"].endswith(
        f"run: trading-dr failover --env {env} --to {role.value}"
    )


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_the_alarm_reads_exactly_what_the_observer_publishes(env: str, role: Role) -> None:
    alarm = _props(env, role, "ObserverSeesPeerDownAlarm")
    probe = _props(env, Role.OBSERVER, "ObserverFunction")
    variables = probe["Environment"]["Variables"]
    observer_region = environment(env).failover.observer_region
    assert alarm["Namespace"] == variables["NAMESPACE"] == "TradingDR/Observer"
    assert alarm["MetricName"] == "RegionAlive"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "Environment": environment(env).suffix,
        "Region": _peer(env, role),
        "Observer": observer_region,
    }
    assert alarm["Period"] == int(variables["PERIOD_S"]) == 10
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"  # no observer data is no evidence
    # The observer probes liveness, never role.
    assert json.loads(variables["TARGETS"])[_peer(env, role)].endswith("/health?probe=liveness")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_observer_lives_in_a_third_region_and_alone_writes_its_namespace(env: str) -> None:
    observer = template(env, Role.OBSERVER)
    regions = {environment(env).region_of(r) for r in (Role.PRIMARY, Role.SECONDARY)}
    assert environment(env).failover.observer_region not in regions
    writers = set()
    for role in (*REGIONAL, Role.OBSERVER):
        for name, statement in policy_statements(template(env, role)):
            actions = statement.get("Action", [])
            if "cloudwatch:PutMetricData" not in actions:
                continue
            namespace = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
            if namespace == "TradingDR/Observer":
                writers.add((role, name))
    assert writers == {(Role.OBSERVER, "ObserverFunctionRole")}
    function = observer["Resources"]["ObserverFunction"]["Properties"]
    assert function["Handler"] == "index.handler"
    assert "def handler(" in function["Code"]["ZipFile"]
    schedule = observer["Resources"]["ObserverRule"]["Properties"]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"


def _function_of(env: str, role: Role, rule: str) -> dict[str, Any]:
    """The function a scheduled rule invokes, and the rule's period in seconds."""
    resources = template(env, role)["Resources"]
    props = resources[rule]["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)"
    (target,) = props["Targets"]
    found: dict[str, Any] = resources[target["Arn"]["Fn::GetAtt"][0]]["Properties"]
    return found


PROBES = [(e, r, "PeerProbeRule", "PROBE_SAMPLES", "PROBE_INTERVAL_S", 3) for e, r in CASES] + [
    (e, Role.OBSERVER, None, "SAMPLES", "PERIOD_S", 3) for e in ENVIRONMENTS
]


@pytest.mark.parametrize(
    ("env", "role", "rule", "samples", "interval", "fetch_timeout_s"),
    PROBES,
    ids=[f"{p[0]}-{p[1].value}" for p in PROBES],
)
def test_each_probe_covers_the_whole_minute_between_its_runs(
    env: str, role: Role, rule: str | None, samples: str, interval: str, fetch_timeout_s: int
) -> None:
    """The probe alarms want 3 consecutive 10 s periods of failures and treat a missing
    period as not breaching: a probe that samples only part of each minute leaves a gap
    that restarts the count, and detection takes a minute longer than the DR budget says
    (found on the local AWS: 81 s instead of 40 s with 5 samples a minute)."""
    if rule is None:
        resources = template(env, role)["Resources"]
        (schedule,) = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
        assert schedule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
        (function,) = [
            r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"
        ]
    else:
        function = _function_of(env, role, rule)
    variables = function["Environment"]["Variables"]
    every_s, count = int(variables[interval]), int(variables[samples])
    assert count * every_s >= 60, "the samples leave part of the minute unprobed"
    # The last sample starts (count-1)*every s in, and may wait its fetch timeout.
    assert function["Timeout"] >= (count - 1) * every_s + fetch_timeout_s
