"""Route 53: health checks, the data-plane fence and the failover records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role
from trading_dr.resources.routing import FAILOVER_RECORD_TTL_S
from trading_dr.stacks import REGIONAL_PROFILES

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]


def _props(env: str, role: Role, logical: str) -> dict[str, Any]:
    props: dict[str, Any] = template(env, role)["Resources"][logical]["Properties"]
    return props


def _regions(env: str, role: Role) -> tuple[str, str]:
    other = Role.PRIMARY if role is Role.SECONDARY else Role.SECONDARY
    return environment(env).region_settings(role).region, environment(env).region_settings(
        other
    ).region


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_https_health_check_probes_this_regions_own_name(env: str, role: Role) -> None:
    config = _props(env, role, "ApiHealthCheck")["HealthCheckConfig"]
    region, _ = _regions(env, role)
    settings = environment(env).failover
    assert config == {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": f"{region}.api.{environment(env).domain}",
        "Port": 443,
        "ResourcePath": "/health",
        "EnableSNI": True,
        "RequestInterval": settings.health_check_interval_s,
        "FailureThreshold": settings.health_check_failure_threshold,
    }


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_fence_is_an_alarm_here_on_a_metric_only_our_workflow_publishes(
    env: str, role: Role
) -> None:
    region, peer = _regions(env, role)
    alarm = _props(env, role, "FenceAlarm")
    assert alarm["AlarmName"] == f"trading-{env}-fence-{peer}"
    assert (alarm["Namespace"], alarm["MetricName"]) == ("TradingDR/Fence", "PeerFenced")
    assert {"Name": "FencedRegion", "Value": peer} in alarm["Dimensions"]
    # Standard resolution (Route 53 reads only those).
    assert alarm["Period"] == 60
    check = template(env, role)["Resources"]["FenceHealthCheck"]
    assert check["DependsOn"] == ["FenceAlarm"]
    # Route 53 reads the alarm's data stream; with none it keeps the last status, so a
    # fence holds when its publisher stops (a new check starts healthy).
    assert check["Properties"]["HealthCheckConfig"] == {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Name": alarm["AlarmName"], "Region": region},
        "InsufficientDataHealthStatus": "LastKnownStatus",
    }
    # The workflow writes the durable fence; the validator republishes exactly that
    # parameter into exactly the alarm's namespace.
    substitutions = _props(env, role, "FailoverStateMachine")["DefinitionSubstitutions"]
    variables = _props(env, role, "ValidatorFunction")["Environment"]["Variables"]
    assert variables["FENCE_PARAMETER"] == substitutions["FenceParameter"]
    assert variables["FENCE_PARAMETER"].endswith("/failover/fence")
    assert variables["FENCE_NAMESPACE"] == alarm["Namespace"]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_record_is_governed_by_a_calculated_check_including_the_peers_fence(
    env: str, role: Role
) -> None:
    t = template(env, role)
    config = _props(env, role, "RegionHealthCheck")["HealthCheckConfig"]
    assert config["Type"] == "CALCULATED"
    assert config["ChildHealthChecks"] == {
        "Fn::If": [
            "PeerCanFence",
            [{"Ref": "ApiHealthCheck"}, {"Ref": "PeerFenceHealthCheckId"}],
            [{"Ref": "ApiHealthCheck"}],
        ]
    }
    assert config["HealthThreshold"] == {"Fn::If": ["PeerCanFence", 2, 1]}
    assert t["Conditions"]["PeerCanFence"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PeerFenceHealthCheckId"}, ""]}]
    }
    assert "Default" not in t["Parameters"]["PeerFenceHealthCheckId"]
    record = _props(env, role, "ApiFailoverRecord")
    region, _ = _regions(env, role)
    assert record["Name"] == f"api.{environment(env).domain}."
    assert record["Failover"] == REGIONAL_PROFILES[role].failover_record
    assert record["Failover"] == ("PRIMARY" if role is Role.PRIMARY else "SECONDARY")
    assert record["SetIdentifier"] == region
    assert record["HealthCheckId"] == {"Ref": "RegionHealthCheck"}
    assert record["HostedZoneId"] == {"Ref": "HostedZoneId"}
    # A CNAME with our own short TTL: an alias would take the target's 60 s.
    assert record["Type"] == "CNAME"
    assert record["TTL"] == str(FAILOVER_RECORD_TTL_S)
    assert record["ResourceRecords"] == [{"Fn::GetAtt": ["FailoverDomain", "RegionalDomainName"]}]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_region_outputs_the_fence_check_its_peer_consumes(env: str) -> None:
    for role in REGIONAL:
        t = template(env, role)
        assert t["Outputs"]["FenceHealthCheckId"]["Value"] == {
            "Ref": "FenceHealthCheckId".removesuffix("Id")
        }
        assert "PeerFenceHealthCheckId" in t["Parameters"]
