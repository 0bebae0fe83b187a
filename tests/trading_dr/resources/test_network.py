"""Network: address plan from config, private subnets without internet, tight groups."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.assertions import (
    has_resource_properties,
    resource_count_is,
    resources_of_type,
    walk,
)
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role
from trading_dr.resources.network import INTERFACE_ENDPOINTS

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_vpc_and_subnets_follow_the_address_plan(env: str, role: Role) -> None:
    t = template(env, role)
    settings = environment(env).region_settings(role)
    has_resource_properties(t, "AWS::EC2::VPC", {"CidrBlock": settings.vpc_cidr})
    subnets = resources_of_type(t, "AWS::EC2::Subnet")
    assert sorted(s["Properties"]["CidrBlock"] for s in subnets.values()) == sorted(
        [*settings.public_subnets, *settings.private_subnets]
    )
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    azs = {str(s["Properties"]["AvailabilityZone"]) for s in subnets.values()}
    assert len(azs) == 2, "two availability zones"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_only_the_public_route_table_reaches_the_internet(env: str, role: Role) -> None:
    t = template(env, role)
    routes = resources_of_type(t, "AWS::EC2::Route")
    assert [r["Properties"]["RouteTableId"] for r in routes.values()] == [
        {"Ref": "PublicRouteTable"}
    ]
    resource_count_is(t, "AWS::EC2::NatGateway", 0)


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_no_ingress_from_anywhere(env: str, role: Role) -> None:
    t = template(env, role)
    for name, resource in t["Resources"].items():
        if not resource["Type"].startswith("AWS::EC2::SecurityGroup"):
            continue
        rules: list[Any] = resource["Properties"].get("SecurityGroupIngress", [])
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules = [resource["Properties"]]
        for rule in rules:
            assert rule.get("CidrIp") != "0.0.0.0/0", name
            assert rule.get("CidrIpv6") != "::/0", name


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_database_reachable_on_5432_from_lambdas_only(env: str, role: Role) -> None:
    t = template(env, role)
    ingress = resources_of_type(t, "AWS::EC2::SecurityGroupIngress")
    to_db = [
        r["Properties"]
        for r in ingress.values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": ["DbSecurityGroup", "GroupId"]}
    ]
    assert to_db == [
        {
            "GroupId": {"Fn::GetAtt": ["DbSecurityGroup", "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["LambdaSecurityGroup", "GroupId"]},
            "Description": "PostgreSQL from the Lambda functions",
        }
    ]
    assert "SecurityGroupIngress" not in t["Resources"]["DbSecurityGroup"]["Properties"]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_endpoints_serve_the_private_subnets(env: str, role: Role) -> None:
    t = template(env, role)
    endpoints = resources_of_type(t, "AWS::EC2::VPCEndpoint").values()
    gateways = [
        e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    interfaces = [
        e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Interface"
    ]
    assert sorted(g["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1] for g in gateways) == [
        "dynamodb",
        "s3",
    ]
    private_tables = [{"Ref": "PrivateRouteTableA"}, {"Ref": "PrivateRouteTableB"}]
    assert all(g["RouteTableIds"] == private_tables for g in gateways)
    assert all(
        g["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]["aws:ResourceAccount"]
        for g in gateways
    )
    assert sorted(i["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1] for i in interfaces) == sorted(
        INTERFACE_ENDPOINTS
    )
    assert all(i["PrivateDnsEnabled"] is True for i in interfaces)


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_flow_logs_go_to_an_encrypted_retained_group(env: str, role: Role) -> None:
    t = template(env, role)
    has_resource_properties(t, "AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL"})
    group = t["Resources"]["FlowLogGroup"]
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    assert group["Properties"]["RetentionInDays"] == environment(env).log_retention_days
    role_name = t["Resources"]["FlowLogRole"]["Properties"]["RoleName"]
    assert role_name.endswith(environment(env).region_settings(role).region)
    assert not any(node == "*" for node in walk(t["Resources"]["FlowLogRole"]))
