"""Deployed state machines: their definition as CloudFormation builds it, their tasks in
their own account."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from trading_dr.local_aws.clients import client_in
from trading_dr.local_aws.server import LocalAws
from trading_dr.local_aws.workflows import definition_string

ACCOUNT = "222222222222"
ASL = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "${Value}", "End": True}}}


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"Definition": ASL, "DefinitionSubstitutions": {"Value": "v"}}, "v"),
        ({"DefinitionString": json.dumps(ASL), "DefinitionSubstitutions": {"Value": "v"}}, "v"),
        ({"DefinitionString": json.dumps(ASL)}, "${Value}"),  # nothing to substitute
        ({"Definition": ASL, "DefinitionSubstitutions": {"Value": 'a "quoted" \\ value'}},
         'a "quoted" \\ value'),
    ],
    ids=["object", "string", "no-substitutions", "escaped"],
)  # fmt: skip
def test_definition_is_built_as_cloudformation_builds_it(
    properties: dict[str, Any], expected: str
) -> None:
    built = json.loads(definition_string(properties))
    assert built["States"]["A"]["Result"] == expected


@given(st.text())
def test_any_substituted_value_lands_intact_in_valid_json(value: str) -> None:
    built = definition_string({"Definition": ASL, "DefinitionSubstitutions": {"Value": value}})
    assert json.loads(built)["States"]["A"]["Result"] == value


def _client(server: LocalAws, service: str, region: str = "us-east-1") -> Any:
    return client_in(service, ACCOUNT, region, endpoint_url=server.endpoint_url)


TEMPLATE = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": "writes-a-parameter",
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "DefinitionString": json.dumps(
                    {
                        "StartAt": "Put",
                        "States": {
                            "Put": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::aws-sdk:ssm:putParameter",
                                "Parameters": {"Name": "${Name}", "Value": "x", "Type": "String"},
                                "ResultPath": None,
                                "End": True,
                            }
                        },
                    }
                ),
                "DefinitionSubstitutions": {"Name": "/written/by/the/task"},
            },
        },
    }
}


def test_a_deployed_machine_runs_its_tasks_in_its_own_account(local_aws: LocalAws) -> None:
    # GIVEN a stack in another account than moto's default, with a machine whose task
    # writes an SSM parameter named through DefinitionSubstitutions
    _client(local_aws, "cloudformation").create_stack(
        StackName="machine", TemplateBody=yaml.safe_dump(TEMPLATE)
    )
    sfn = _client(local_aws, "stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    # WHEN it runs
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    for _ in range(100):
        status = sfn.describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            break
        time.sleep(0.05)
    # THEN the task wrote into the machine's account, with the substituted name
    assert status == "SUCCEEDED"
    value = _client(local_aws, "ssm").get_parameter(Name="/written/by/the/task")
    assert value["Parameter"]["Value"] == "x"
    default_account = boto3.client(
        "ssm", region_name="us-east-1", endpoint_url=local_aws.endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    assert default_account.get_parameters(Names=["/written/by/the/task"])["Parameters"] == []
