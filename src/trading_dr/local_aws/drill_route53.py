"""Route 53 as a drill deploys it: the health checks and failover records of both regional
templates, resolved against the stacks the drill deployed (drill_deploy.py); the step
(drill_step.py) feeds them and route53_health.py computes their status and the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trading_dr.local_aws.drill_model import DrillError, Stack, check_id
from trading_dr.local_aws.route53_health import (
    AlarmCheck,
    CalculatedCheck,
    EndpointCheck,
    FailoverRecord,
)


@dataclass
class Route53Config:
    """The health checks and failover records of both regional templates."""

    endpoint_checks: dict[str, EndpointCheck] = field(default_factory=dict)
    alarm_checks: dict[str, AlarmCheck] = field(default_factory=dict)
    calculated_checks: dict[str, CalculatedCheck] = field(default_factory=dict)
    records: list[FailoverRecord] = field(default_factory=list)
    # The endpoint's domain name -> its region: what the network model answers for.
    domains: dict[str, str] = field(default_factory=dict)


def route53_config(stacks: Mapping[str, Stack]) -> Route53Config:
    """The health checks and failover records of the deployed stacks."""
    config = Route53Config()
    for stack in stacks.values():
        for logical, resource in stack.resources("AWS::Route53::HealthCheck"):
            _health_check(config, stacks, stack, logical, resource)
        for _, resource in stack.resources("AWS::Route53::RecordSet"):
            if "Failover" in resource["Properties"]:
                props = stack.resolve(resource["Properties"])
                config.records.append(
                    FailoverRecord(
                        props["Name"],
                        props["SetIdentifier"],
                        props["Failover"],
                        props["HealthCheckId"],
                        props["ResourceRecords"][0],
                    )
                )
    return config


def _health_check(
    config: Route53Config,
    stacks: Mapping[str, Stack],
    stack: Stack,
    logical: str,
    resource: Mapping[str, Any],
) -> None:
    check = stack.resolve(resource["Properties"]["HealthCheckConfig"])
    identifier = check_id(stack.region, logical)
    if check["Type"] in ("HTTP", "HTTPS"):
        config.endpoint_checks[identifier] = EndpointCheck(
            identifier,
            check["FullyQualifiedDomainName"],
            check.get("ResourcePath", "/"),
            int(check.get("RequestInterval", 30)),
            int(check.get("FailureThreshold", 3)),
        )
        config.domains[check["FullyQualifiedDomainName"]] = stack.region
    elif check["Type"] == "CLOUDWATCH_METRIC":
        alarm = check["AlarmIdentifier"]
        owner = stacks[alarm["Region"]]
        config.alarm_checks[identifier] = AlarmCheck(
            identifier,
            owner.alarms[alarm["Name"]],
            alarm["Region"],
            check.get("InsufficientDataHealthStatus", "LastKnownStatus"),
        )
    elif check["Type"] == "CALCULATED":
        config.calculated_checks[identifier] = CalculatedCheck(
            identifier, tuple(check["ChildHealthChecks"]), int(check["HealthThreshold"])
        )
    else:
        raise DrillError(f"health check type {check['Type']} is not emulated")
