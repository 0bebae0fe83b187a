"""The local AWS extension, through boto3 against the server (small templates, fast)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

ACCOUNT = "123456789012"  # moto's default account: the caller's own
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})

TEMPLATE = {
    "Parameters": {"Value": {"Type": "String"}},
    "Resources": {
        "Cluster": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {"DBClusterIdentifier": "db-one", "Engine": "aurora-postgresql"},
        },
        "Table": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"TableName": "t1"}},
        "Future": {"Type": "AWS::Example::NotYetKnown", "Properties": {}},
        "Param": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": "/t/value",
                "Type": "String",
                "Value": {"Ref": "Value"},
                "Tags": {"a": "b"},
            },
        },
    },
    "Outputs": {
        "Endpoint": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}},
        "ClusterArn": {"Value": {"Fn::GetAtt": ["Cluster", "DBClusterArn"]}},
        "TableArn": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
        "FutureArn": {"Value": {"Fn::GetAtt": ["Future", "Arn"]}},
        "ParamName": {"Value": {"Ref": "Param"}},
    },
}


def cfn(server: LocalAws) -> Any:
    return boto3.client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        config=NO_RETRY,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def outputs(client: Any, stack_id: str) -> dict[str, str]:
    stack = client.describe_stacks(StackName=stack_id)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def new_stack_set(client: Any, value: str = "one") -> str:
    client.create_stack_set(
        StackSetName="s",
        TemplateBody=yaml.safe_dump(TEMPLATE),
        Parameters=[{"ParameterKey": "Value", "ParameterValue": value}],
    )
    return str(
        client.create_stack_instances(
            StackSetName="s", Accounts=[ACCOUNT], Regions=["us-east-1"], OperationId="op-1"
        )["OperationId"]
    )


def instance(client: Any) -> dict[str, Any]:
    return dict(client.list_stack_instances(StackSetName="s")["Summaries"][0])


def test_skipped_types_deploy_and_answer_get_att(local_aws: LocalAws) -> None:
    client = cfn(local_aws)
    new_stack_set(client)
    summary = instance(client)
    assert summary["Status"] == "CURRENT"

    found = outputs(client, summary["StackId"])  # StackId names the real stack
    assert found["Endpoint"].startswith("db-one.cluster-")
    assert found["ClusterArn"] == f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:db-one"
    assert found["TableArn"] == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t1"
    assert found["FutureArn"].startswith("arn:aws:example:us-east-1:")


def test_unknown_attribute_of_a_stand_in_is_a_template_error(local_aws: LocalAws) -> None:
    client = cfn(local_aws)
    bad = {
        "Resources": {"Table": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {}}},
        "Outputs": {"X": {"Value": {"Fn::GetAtt": ["Table", "NoSuchAttribute"]}}},
    }
    with pytest.raises(ClientError):
        client.create_stack(StackName="bad", TemplateBody=yaml.safe_dump(bad))


def test_update_stack_set_redeploys_instances(local_aws: LocalAws) -> None:
    client = cfn(local_aws)
    new_stack_set(client, "one")
    ssm = boto3.client(
        "ssm",
        region_name="us-east-1",
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = outputs(client, instance(client)["StackId"])["ParamName"]
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "one"

    client.update_stack_instances(
        StackSetName="s",
        Accounts=[ACCOUNT],
        Regions=["us-east-1"],
        ParameterOverrides=[{"ParameterKey": "Value", "ParameterValue": "two"}],
    )
    stack = client.describe_stacks(StackName=instance(client)["StackId"])["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"Value": "two"}
    template = dict(TEMPLATE, Description="changed")
    client.update_stack_set(StackSetName="s", TemplateBody=yaml.safe_dump(template))
    body = client.get_template(StackName=instance(client)["StackId"])["TemplateBody"]
    assert "changed" in str(body)  # the instance's stack really changed


def test_failed_resource_fails_the_operation_with_its_reason(local_aws: LocalAws) -> None:
    client = cfn(local_aws)
    faults.fail_resource("Table", "limit exceeded (injected)")
    op = new_stack_set(client)

    operation = client.describe_stack_set_operation(StackSetName="s", OperationId=op)
    assert operation["StackSetOperation"]["Status"] == "FAILED"
    results = client.list_stack_set_operation_results(StackSetName="s", OperationId=op)
    reason = results["Summaries"][0]["StatusReason"]
    assert "ResourceLogicalId:Table" in reason
    assert "limit exceeded (injected)" in reason
    assert instance(client)["Status"] == "OUTDATED"


def test_operation_ids_are_idempotent_and_overlap_is_refused(local_aws: LocalAws) -> None:
    client = cfn(local_aws)
    faults.set_operation_seconds(30)
    op = new_stack_set(client)
    again = client.create_stack_instances(
        StackSetName="s", Accounts=[ACCOUNT], Regions=["us-east-1"], OperationId="op-1"
    )
    assert again["OperationId"] == op
    status = client.describe_stack_set_operation(StackSetName="s", OperationId=op)
    assert status["StackSetOperation"]["Status"] == "RUNNING"
    with pytest.raises(ClientError) as error:
        client.update_stack_instances(StackSetName="s", Accounts=[ACCOUNT], Regions=["us-east-1"])
    assert error.value.response["Error"]["Code"] == "OperationInProgressException"


def test_injected_call_errors_are_served_then_consumed(local_aws: LocalAws) -> None:
    client = cfn(local_aws)
    faults.fail_call("ListStackSets", "Throttling", "Rate exceeded")  # not faultable: ignored
    faults.fail_call("DescribeStacks", "Throttling", "Rate exceeded")
    with pytest.raises(ClientError) as error:
        client.describe_stacks()
    assert error.value.response["Error"]["Code"] == "Throttling"
    assert client.describe_stacks()["Stacks"] == []


def test_only_a_running_operation_can_be_stopped(local_aws: LocalAws) -> None:
    cfn = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body = '{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}'
    cfn.create_stack_set(StackSetName="s", TemplateBody=body)
    faults.set_operation_seconds(30)
    op = cfn.create_stack_instances(
        StackSetName="s", Accounts=["123456789012"], Regions=["us-east-1"]
    )["OperationId"]

    cfn.stop_stack_set_operation(StackSetName="s", OperationId=op)
    status = cfn.describe_stack_set_operation(StackSetName="s", OperationId=op)
    assert status["StackSetOperation"]["Status"] == "STOPPING"
    with pytest.raises(ClientError, match="InvalidOperationException"):
        cfn.stop_stack_set_operation(StackSetName="s", OperationId=op)
