"""The failover drills, end to end on the rendered templates, on simulated time."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest

from tests.support.templates import ENVIRONMENTS, environment, template
from trading_dr.config import Role
from trading_dr.local_aws.drill import SCENARIOS, DrillResult, run_drill


@cache
def _drill(scenario: str, env: str) -> DrillResult:
    """One run per scenario and environment for the whole module (results are only read)."""
    return run_drill(scenario, environment(env))


def _timeline(result: DrillResult) -> str:
    return "\n".join(result.lines())


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_passes_with_a_timeline(scenario: str, env: str) -> None:
    # dev's health checks run every 30 s: DNS moves later, the drill waits for it.
    result = _drill(scenario, env)
    assert result.passed, _timeline(result)
    assert result.timeline[0].what == f"global cluster trading-{env}-global: writer in us-east-1"
    offsets = [e.offset_s for e in result.timeline]
    assert offsets == sorted(offsets)


def test_region_outage_moves_dns_then_fails_over_through_the_quorum_alarm() -> None:
    result = _drill("region-outage", "prod")
    text = _timeline(result)
    order = [
        "health check us-east-1/ApiHealthCheck: UNHEALTHY",
        "answers us-east-2",
        "alarm trading-prod-peer-down-quorum: OK -> ALARM",
        "EventBridge rule trading-prod-failover-on-peer-unhealthy matched",
        "SUCCEEDED: the writer is in us-east-2 (unplanned mode)",
        "health check us-east-2/FenceHealthCheck: UNHEALTHY",
    ]
    positions = [text.index(item) for item in order]
    assert positions == sorted(positions), text


def test_partition_pages_with_the_command_and_moves_nothing() -> None:
    result = _drill("partition", "prod")
    text = _timeline(result)
    assert 'page: ALARM: "trading-prod-peer-down-one-vantage-point"' in text
    assert "workflow" not in text.replace("workflow run", "")


def _templates() -> dict[Role, dict[str, Any]]:
    return {role: template("prod", role) for role in Role}


def test_a_quorum_rule_that_ignores_the_observer_breaks_the_partition_drill() -> None:
    """The drill reads the rendered definitions: weaken the rule, and the drill fails."""
    templates = copy.deepcopy(_templates())
    quorum = templates[Role.SECONDARY]["Resources"]["PeerDownQuorumAlarm"]
    quorum["Properties"]["AlarmRule"] = 'ALARM("trading-prod-peer-unhealthy")'
    result = run_drill("partition", environment("prod"), templates)
    assert not result.passed
    assert "workflow" in _timeline(result)


def test_a_disabled_trigger_rule_breaks_the_outage_drill() -> None:
    templates = copy.deepcopy(_templates())
    rule = templates[Role.SECONDARY]["Resources"]["FailoverTriggerRule"]
    rule["Properties"]["State"] = "DISABLED"
    result = run_drill("region-outage", environment("prod"), templates)
    assert not result.passed
    assert "EventBridge rule" not in _timeline(result)


def test_the_drill_restores_moto_afterwards() -> None:
    from botocore.client import BaseClient
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.cloudwatch import models as cloudwatch_models

    invoke = LambdaSimpleBackend.invoke
    utcnow = cloudwatch_models.utcnow  # type: ignore[attr-defined]
    call = BaseClient._make_api_call  # type: ignore[attr-defined]
    run_drill("partition", environment("prod"))
    assert LambdaSimpleBackend.invoke is invoke
    assert cloudwatch_models.utcnow is utcnow  # type: ignore[attr-defined]
    assert BaseClient._make_api_call is call  # type: ignore[attr-defined]


def test_a_call_to_a_region_that_is_down_fails_and_is_recorded() -> None:
    import boto3
    from botocore.exceptions import EndpointConnectionError

    from trading_dr.local_aws.drill_world import drill_world

    with drill_world(environment("prod"), _templates()) as world:
        world.down.add("us-east-1")
        with pytest.raises(EndpointConnectionError):
            boto3.client("ssm", "us-east-1").get_parameter(Name="/anything")
        boto3.client("ssm", "us-east-2").describe_parameters()
        assert [(r, name) for _, r, name in world.refused] == [("us-east-1", "ssm.GetParameter")]
        # The workflow's own tasks go through the same guard: a run in a down region
        # cannot even start.
        world.down.add("us-east-2")
        with pytest.raises(EndpointConnectionError):
            boto3.client("stepfunctions", "us-east-2").list_state_machines()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_region_outage_measures_the_traffic_path(env: str) -> None:
    """DNS moves as soon as Route 53 sees the primary fail FailureThreshold checks in a row:
    the secondary accepts trades as a read-only member, so DNS does not wait for the
    promotion (the DR budget's traffic path); the fence follows within its alarm's period."""
    result = _drill("region-outage", env)
    figures = result.figures
    config = template(env, Role.PRIMARY)["Resources"]["ApiHealthCheck"]["Properties"][
        "HealthCheckConfig"
    ]
    # An outage between two checks is seen by the next one: FailureThreshold failures take
    # between (FailureThreshold - 1) and FailureThreshold intervals.
    interval, threshold = config["RequestInterval"], config["FailureThreshold"]
    moved = figures["outage to DNS answering us-east-2"]
    assert figures["outage to the workflow's start"] > 0
    assert (threshold - 1) * interval <= moved <= threshold * interval
    assert figures["outage to the fence holding the old primary out of DNS"] > moved
    assert "figures (simulated seconds):" in result.lines()
