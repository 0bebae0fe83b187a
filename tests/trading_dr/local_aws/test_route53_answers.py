"""Route 53 health check statuses and DNS answers of the long-running local AWS, evaluated
from the metric data, the deployed stacks and the regions that are down (small templates
deployed through the server; CloudWatch's clock is fixed, so nothing waits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_dr.local_aws import faults, route53_answers
from trading_dr.local_aws.server import LocalAws

ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ZONE = "t.example.com"
# A minute boundary: the alarm's range at NOW is [NOW - 60 s, NOW).
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
PRIMARY_TARGET = "d-1.execute-api.us-east-1.amazonaws.com"
SECONDARY_TARGET = "d-2.execute-api.us-east-2.amazonaws.com"


def _primary(insufficient: str, threshold: int) -> dict[str, Any]:
    return {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {
            "Domain": {
                "Type": "AWS::ApiGateway::DomainName",
                "Properties": {"DomainName": f"us-east-1.api.{ZONE}"},
            },
            "ApiCheck": _endpoint_check("us-east-1"),
            "Fence": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "t-fence",
                    "Namespace": "T/Fence",
                    "MetricName": "PeerFenced",
                    "Dimensions": [{"Name": "Environment", "Value": "t"}],
                    "Statistic": "Maximum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "ignore",
                },
            },
            "FenceCheck": {
                "Type": "AWS::Route53::HealthCheck",
                "DependsOn": ["Fence"],
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "CLOUDWATCH_METRIC",
                        "AlarmIdentifier": {"Name": "t-fence", "Region": "us-east-1"},
                        "InsufficientDataHealthStatus": insufficient,
                    }
                },
            },
            "RegionCheck": {
                "Type": "AWS::Route53::HealthCheck",
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "CALCULATED",
                        "ChildHealthChecks": [{"Ref": "ApiCheck"}, {"Ref": "FenceCheck"}],
                        "HealthThreshold": threshold,
                    }
                },
            },
            "Record": _failover_record("PRIMARY", "RegionCheck", PRIMARY_TARGET),
            "Plain": {
                "Type": "AWS::Route53::RecordSet",
                "Properties": {
                    "HostedZoneId": {"Ref": "ZoneId"},
                    "Name": f"plain.{ZONE}.",
                    "Type": "A",
                    "TTL": "60",
                    "ResourceRecords": ["192.0.2.10"],
                },
            },
            "InZone": _alias("www", f"plain.{ZONE}."),
            "ToApi": _alias("regional", SECONDARY_TARGET),
        },
        "Outputs": {
            key: {"Value": {"Ref": key}} for key in ("ApiCheck", "FenceCheck", "RegionCheck")
        },
    }


def _secondary() -> dict[str, Any]:
    return {
        "Parameters": {"ZoneId": {"Type": "String"}},
        "Resources": {
            "Domain": {
                "Type": "AWS::ApiGateway::DomainName",
                "Properties": {"DomainName": f"us-east-2.api.{ZONE}"},
            },
            "ApiCheck": _endpoint_check("us-east-2"),
            "Record": _failover_record("SECONDARY", "ApiCheck", SECONDARY_TARGET),
        },
        "Outputs": {"ApiCheck": {"Value": {"Ref": "ApiCheck"}}},
    }


def _endpoint_check(region: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Route53::HealthCheck",
        "Properties": {
            "HealthCheckConfig": {
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"{region}.api.{ZONE}",
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 3,
            }
        },
    }


def _failover_record(role: str, check: str, target: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Route53::RecordSet",
        "Properties": {
            "HostedZoneId": {"Ref": "ZoneId"},
            "Name": f"api.{ZONE}.",
            "Type": "CNAME",
            "TTL": "10",
            "SetIdentifier": role.lower(),
            "Failover": role,
            "HealthCheckId": {"Ref": check},
            "ResourceRecords": [target],
        },
    }


def _alias(name: str, target: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Route53::RecordSet",
        "Properties": {
            "HostedZoneId": {"Ref": "ZoneId"},
            "Name": f"{name}.{ZONE}.",
            "Type": "A",
            "AliasTarget": {
                "DNSName": target,
                "HostedZoneId": "Z1UJRXOUMOOFQ8",
                "EvaluateTargetHealth": False,
            },
        },
    }


def client(server: LocalAws, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=server.endpoint_url,
        config=NO_RETRY,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class Platform:
    """The two small stacks, deployed; health check ids by name."""

    def __init__(self, server: LocalAws, insufficient: str, threshold: int = 2) -> None:
        self.server = server
        self.zone = (
            client(server, "route53")
            .create_hosted_zone(Name=ZONE, CallerReference="t")["HostedZone"]["Id"]
            .split("/")[-1]
        )
        self.checks = self._deploy("us-east-1", _primary(insufficient, threshold))
        self.checks.update({f"{k}2": v for k, v in self._deploy("us-east-2", _secondary()).items()})

    def _deploy(self, region: str, template: dict[str, Any]) -> dict[str, str]:
        cfn = client(self.server, "cloudformation", region)
        cfn.create_stack(
            StackName="t",
            TemplateBody=yaml.safe_dump(template),
            Parameters=[{"ParameterKey": "ZoneId", "ParameterValue": self.zone}],
        )
        stack = cfn.describe_stacks(StackName="t")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    def healthy(self, name: str) -> bool:
        return route53_answers.status(ACCOUNT, self.checks[name])[0]

    def fence(self, value: float, seconds_ago: float) -> None:
        client(self.server, "cloudwatch").put_metric_data(
            Namespace="T/Fence",
            MetricData=[
                {
                    "MetricName": "PeerFenced",
                    "Dimensions": [{"Name": "Environment", "Value": "t"}],
                    "Value": value,
                    "Timestamp": NOW - timedelta(seconds=seconds_ago),
                }
            ],
        )

    def dns(self, name: str = f"api.{ZONE}", rtype: str = "CNAME") -> dict[str, Any]:
        answer: dict[str, Any] = client(self.server, "route53").test_dns_answer(
            HostedZoneId=self.zone, RecordName=name, RecordType=rtype
        )
        return answer


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.cloudwatch import models as cloudwatch_models

    monkeypatch.setattr(cloudwatch_models, "utcnow", lambda: NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("insufficient", "datapoints", "healthy"),
    [
        ("Healthy", [], True),
        ("Unhealthy", [], False),
        ("LastKnownStatus", [], True),  # a new check
        ("Healthy", [(1, 30)], False),  # breaching in the last whole minute
        ("Unhealthy", [(0, 30)], True),
        ("Healthy", [(1, 150)], True),  # older than the range: insufficient data
        ("Unhealthy", [(0, 150)], False),
        ("LastKnownStatus", [(1, 150)], False),  # the last range with data breached
        ("LastKnownStatus", [(1, 150), (0, 100)], True),
        ("LastKnownStatus", [(0, 150), (1, 100)], False),
        ("Healthy", [(1, -10)], True),  # the current minute is not complete yet
    ],
    ids=[
        "none-healthy",
        "none-unhealthy",
        "none-last-known-new",
        "breach",
        "clear",
        "old-breach-healthy",
        "old-clear-unhealthy",
        "last-known-breach",
        "last-known-cleared",
        "last-known-breached-later",
        "current-minute",
    ],
)
def test_an_alarm_check_reads_the_metric_data(
    local_aws: LocalAws,
    fixed_clock: None,
    insufficient: str,
    datapoints: list[tuple[float, float]],
    healthy: bool,
) -> None:
    # GIVEN a check of the fence alarm and its metric's datapoints
    platform = Platform(local_aws, insufficient)
    for value, seconds_ago in datapoints:
        platform.fence(value, seconds_ago)
    # WHEN Route 53 is asked THEN the alarm's condition over the data decides
    assert platform.healthy("FenceCheck") is healthy


@pytest.mark.parametrize("state", ["ALARM", "OK"])
def test_setting_the_alarm_state_changes_nothing(
    local_aws: LocalAws, fixed_clock: None, state: str
) -> None:
    # GIVEN a fence alarm whose data says "not fenced", and the same alarm in CloudWatch
    platform = Platform(local_aws, "Healthy")
    platform.fence(0, 30)
    cloudwatch = client(local_aws, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="t-fence",
        Namespace="T/Fence",
        MetricName="PeerFenced",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    before = platform.healthy("FenceCheck")
    # WHEN someone forces the alarm's state
    cloudwatch.set_alarm_state(AlarmName="t-fence", StateValue=state, StateReason="forced")
    # THEN the check still follows the data
    assert before is True
    assert platform.healthy("FenceCheck") is True


@pytest.mark.parametrize(
    ("down", "healthy_east1", "healthy_east2"),
    [((), True, True), (("us-east-1",), False, True), (("us-east-2",), True, False)],
    ids=["all-up", "east-1-down", "east-2-down"],
)
def test_endpoint_checks_follow_region_outages(
    local_aws: LocalAws, down: tuple[str, ...], healthy_east1: bool, healthy_east2: bool
) -> None:
    # GIVEN both regions' API checks
    platform = Platform(local_aws, "Healthy")
    # WHEN regions go down
    for region in down:
        faults.region_down(region)
    # THEN a check is healthy while its endpoint's region answers
    assert platform.healthy("ApiCheck") is healthy_east1
    assert platform.healthy("ApiCheck2") is healthy_east2


def test_get_health_check_status_reports_the_checker(local_aws: LocalAws) -> None:
    # GIVEN the secondary's API check, its region down
    platform = Platform(local_aws, "Healthy")
    route53 = client(local_aws, "route53")
    faults.region_down("us-east-2")
    # WHEN its status is asked for THEN the one checker reports the failure
    reports = route53.get_health_check_status(HealthCheckId=platform.checks["ApiCheck2"])
    (observation,) = reports["HealthCheckObservations"]
    assert observation["StatusReport"]["Status"].startswith("Failure")
    ok = route53.get_health_check_status(HealthCheckId=platform.checks["ApiCheck"])
    assert ok["HealthCheckObservations"][0]["StatusReport"]["Status"].startswith("Success")
    # AND a calculated check is refused, as AWS refuses it
    with pytest.raises(ClientError) as refused:
        route53.get_health_check_status(HealthCheckId=platform.checks["RegionCheck"])
    assert refused.value.response["Error"]["Code"] == "InvalidInput"


@pytest.mark.parametrize(
    ("threshold", "east1_down", "fenced", "healthy"),
    [
        (2, False, False, True),
        (2, True, False, False),
        (2, False, True, False),
        (1, False, True, True),  # one healthy child of two is enough
        (1, True, True, False),
    ],
    ids=["both", "api-down", "fenced", "threshold-1", "threshold-1-none"],
)
def test_a_calculated_check_counts_its_children(
    local_aws: LocalAws,
    fixed_clock: None,
    threshold: int,
    east1_down: bool,
    fenced: bool,
    healthy: bool,
) -> None:
    # GIVEN a region check over the API check and the fence check
    platform = Platform(local_aws, "LastKnownStatus", threshold)
    if fenced:
        platform.fence(1, 30)
    # WHEN the primary's region is down (or not)
    if east1_down:
        faults.region_down("us-east-1")
    # THEN it is healthy while HealthThreshold children are
    assert platform.healthy("RegionCheck") is healthy


def test_an_inverted_check_flips_and_an_update_keeps_its_id(local_aws: LocalAws) -> None:
    # GIVEN the deployed stack, updated so that the region check is inverted
    platform = Platform(local_aws, "Healthy")
    template = _primary("Healthy", 2)
    template["Resources"]["RegionCheck"]["Properties"]["HealthCheckConfig"]["Inverted"] = True
    cfn = client(local_aws, "cloudformation")
    cfn.update_stack(
        StackName="t",
        TemplateBody=yaml.safe_dump(template),
        Parameters=[{"ParameterKey": "ZoneId", "ParameterValue": platform.zone}],
    )
    outputs = cfn.describe_stacks(StackName="t")["Stacks"][0]["Outputs"]
    # THEN the check keeps its id AND healthy children make it unhealthy
    assert {o["OutputKey"]: o["OutputValue"] for o in outputs}["RegionCheck"] == (
        platform.checks["RegionCheck"]
    )
    assert platform.healthy("RegionCheck") is False


def test_dns_answers_the_primary_then_the_secondary(local_aws: LocalAws, fixed_clock: None) -> None:
    # GIVEN the failover pair, both regions healthy
    platform = Platform(local_aws, "LastKnownStatus")
    first = platform.dns()
    # WHEN the primary is fenced (its fence metric breaches)
    platform.fence(1, 30)
    fenced = platform.dns()
    # THEN DNS answers the primary first, then the secondary
    assert (first["ResponseCode"], first["RecordData"]) == ("NOERROR", [PRIMARY_TARGET])
    assert fenced["RecordData"] == [SECONDARY_TARGET]
    # AND once both are unhealthy Route 53 answers as if both were healthy: the primary
    faults.region_down("us-east-2")
    assert route53_answers.answer(ACCOUNT, platform.zone, f"api.{ZONE}", "CNAME") == (
        "NOERROR",
        [PRIMARY_TARGET],
    )


@pytest.mark.parametrize(
    ("name", "rtype", "code", "data"),
    [
        (f"plain.{ZONE}", "A", "NOERROR", ["192.0.2.10"]),
        (f"www.{ZONE}.", "A", "NOERROR", ["192.0.2.10"]),  # alias to a record of the zone
        (f"regional.{ZONE}", "A", "NOERROR", [SECONDARY_TARGET]),  # alias to a resource
        (f"plain.{ZONE}", "AAAA", "NOERROR", []),
        (f"api.{ZONE}", "A", "NOERROR", [PRIMARY_TARGET]),  # a CNAME answers any type
        (f"absent.{ZONE}", "A", "NXDOMAIN", []),
    ],
    ids=["plain", "alias-in-zone", "alias-resource", "other-type", "cname", "absent"],
)
def test_dns_answer_record_data(
    local_aws: LocalAws, name: str, rtype: str, code: str, data: list[str]
) -> None:
    platform = Platform(local_aws, "Healthy")
    answer = platform.dns(name, rtype)
    assert (answer["ResponseCode"], answer["RecordData"]) == (code, data)
    assert (answer["RecordName"], answer["RecordType"]) == (name, rtype)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=80), rtype=st.sampled_from(["A", "AAAA", "CNAME", "TXT"]))
def test_any_name_gets_a_dns_code_not_a_crash(
    local_server: LocalAws, name: str, rtype: str
) -> None:
    # Hostile input: whatever the name, the answer is a DNS code and record data.
    from moto.route53.models import route53_backends

    zone = route53_backends[ACCOUNT]["aws"].create_hosted_zone(
        "hostile.example.com.", private_zone=False
    )
    code, data = route53_answers.answer(ACCOUNT, zone.id, name, rtype)
    assert code in ("NOERROR", "NXDOMAIN")
    assert isinstance(data, list)
