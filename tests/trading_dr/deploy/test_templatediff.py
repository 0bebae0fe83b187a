"""Template differences a reviewer reads first: IAM statements, security group rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from trading_dr.deploy.template_values import load_template, show
from trading_dr.deploy.templatediff import diff_templates

BASE: dict[str, Any] = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                },
                "Policies": [
                    {
                        "PolicyName": "app",
                        "PolicyDocument": {
                            "Statement": [
                                {
                                    "Sid": "ReadQueue",
                                    "Effect": "Allow",
                                    "Action": ["sqs:ReceiveMessage"],
                                    "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                }
                            ]
                        },
                    }
                ],
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "DbSg": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "SecurityGroupEgress": [
                    {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "none"}
                ]
            },
        },
        "DbIngress": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Fn::GetAtt": ["DbSg", "GroupId"]},
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "SourceSecurityGroupId": {"Fn::GetAtt": ["AppSg", "GroupId"]},
                "Description": "from the app",
            },
        },
    }
}


def changed(mutate: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    mutate(new["Resources"])
    return new


def test_identical_templates_have_no_changes() -> None:
    result = diff_templates(BASE, copy.deepcopy(BASE))
    assert not result.changed


def test_statement_with_sid_changed_shows_before_and_after() -> None:
    def widen(r: dict[str, Any]) -> None:
        statement = r["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
        statement["Action"] = ["sqs:*"]

    result = diff_templates(BASE, changed(widen))

    (change,) = result.iam
    assert change.change == "changed"
    assert change.item["sid"] == "ReadQueue"
    assert change.item["policy"] == "app"
    assert change.item["actions"] == ["sqs:*"]
    assert change.before is not None
    assert change.before["actions"] == ["sqs:ReceiveMessage"]
    assert change.item["resources"] == ["${Queue.Arn}"]
    assert [c.item["logical_id"] for c in result.resources] == ["Role"]
    assert result.security_groups == []


def test_trust_policy_principal_change_is_removed_plus_added() -> None:
    def trust_everyone(r: dict[str, Any]) -> None:
        trust = r["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        trust["Principal"] = {"AWS": "*"}

    result = diff_templates(BASE, changed(trust_everyone))

    assert [(c.change, c.item["policy"], c.item["principals"]) for c in result.iam] == [
        ("added", "trust", ["AWS:*"]),
        ("removed", "trust", ["Service:lambda.amazonaws.com"]),
    ]


def test_security_group_rules_added_removed_and_described() -> None:
    def open_db(r: dict[str, Any]) -> None:
        r["DbSg"]["Properties"]["SecurityGroupIngress"] = [
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"}
        ]
        r["DbIngress"]["Properties"]["Description"] = "from the app tier"
        del r["DbSg"]["Properties"]["SecurityGroupEgress"]

    result = diff_templates(BASE, changed(open_db))

    rows = {(c.change, c.item["direction"], c.item["peer"]) for c in result.security_groups}
    assert rows == {
        ("added", "ingress", "0.0.0.0/0"),
        ("removed", "egress", "127.0.0.1/32"),
        ("changed", "ingress", "sg:AppSg"),
    }
    standalone = next(c for c in result.security_groups if c.change == "changed")
    assert standalone.item["group"] == "DbSg"  # ${DbSg.GroupId} names the group
    assert standalone.item["ports"] == "5432"
    assert standalone.before == {**standalone.item, "description": "from the app"}


def test_resources_added_removed_and_type_changes() -> None:
    def rework(r: dict[str, Any]) -> None:
        r["Topic"] = {"Type": "AWS::SNS::Topic"}
        del r["DbIngress"]
        r["Queue"]["Type"] = "AWS::SQS::QueueX"

    result = diff_templates(BASE, changed(rework))

    # A new type replaces the (stateful) queue: replacements come first.
    assert [(c.change, c.item["logical_id"], c.item["type"]) for c in result.resources] == [
        ("modified", "Queue", "AWS::SQS::QueueX"),
        ("removed", "DbIngress", "AWS::EC2::SecurityGroupIngress"),
        ("added", "Topic", "AWS::SNS::Topic"),
    ]
    assert result.resources[0].before == {"type": "AWS::SQS::Queue"}
    assert result.resources[0].item["replacement"] is True


def test_json_and_short_form_yaml_load_like_the_long_form() -> None:
    short = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${AWS::StackName}-role'
      Path: !Ref PathParam
      Arn: !GetAtt Queue.Arn
      Both: !Join [':', [a, !Ref B]]
"""
    loaded = load_template(short)["Resources"]["Role"]["Properties"]
    assert loaded == {
        "RoleName": {"Fn::Sub": "${AWS::StackName}-role"},
        "Path": {"Ref": "PathParam"},
        "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Both": {"Fn::Join": [":", ["a", {"Ref": "B"}]]},
    }
    assert load_template(json.dumps(BASE)) == load_template(yaml.safe_dump(BASE))
    assert show({"Fn::Join": [":", ["a", {"Ref": "B"}]]}) == "a:${B}"
