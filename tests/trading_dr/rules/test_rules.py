"""The rules pack: each rule finds its template that breaks the AWS constraint and stays
silent on the one that keeps it; the pack loads through the stock cfn-lint command too."""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trading_dr.cfn_template import snapshot_hash, snapshot_members
from trading_dr.lint import lint_template
from trading_dr.rules import CATALOGUE, RULES_DIR

ACCOUNT_SUB = "${AWS::AccountId}"
SECRET: dict[str, Any] = {
    "Type": "AWS::SecretsManager::Secret",
    "Properties": {
        "GenerateSecretString": {
            "SecretStringTemplate": '{"username": "admin"}',
            "GenerateStringKey": "password",
            "PasswordLength": 32,
            "ExcludeCharacters": "/\"@\\'`",
        }
    },
}
PASSWORD = {"Fn::Sub": "{{resolve:secretsmanager:${DbSecret}:SecretString:password}}"}


def _cluster(**props: Any) -> dict[str, Any]:
    base = {
        "Engine": "aurora-postgresql",
        "EngineVersion": "16.11",
        "GlobalClusterIdentifier": "trading-global",
        "StorageEncrypted": True,
        "KmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/abc",
    }
    return {"Type": "AWS::RDS::DBCluster", "Properties": {**base, **props}}


def _logs_policy(statement_changes: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": {"Fn::Sub": "${Logs.Arn}/*"},
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": [{"Fn::GetAtt": ["Data", "Arn"]}]},
        },
    }
    statement.update(statement_changes or {})
    statement = {k: v for k, v in statement.items() if v is not None}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "Logs"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        },
    }


def _logging_buckets(logs_props: dict[str, Any] | None = None) -> dict[str, Any]:
    logs = {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }
    logs.update(logs_props or {})
    return {
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": logs},
        "Data": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": {"Fn::Sub": f"trading-data-{ACCOUNT_SUB}"},
                "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}},
            },
        },
    }


def _api(deployment_id: str | None = None, depends: list[str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Health": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "PathPart": "health",
            },
        },
        "GetHealth": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Ref": "Health"},
                "HttpMethod": "GET",
                "AuthorizationType": "NONE",
                "Integration": {"Type": "MOCK"},
            },
        },
        "BadBody": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResponseType": "BAD_REQUEST_BODY",
                "StatusCode": "400",
            },
        },
    }
    digest = snapshot_hash(snapshot_members({"Resources": resources}, "Api"))
    logical = deployment_id or f"Deployment{digest}"
    resources[logical] = {
        "Type": "AWS::ApiGateway::Deployment",
        "DependsOn": depends if depends is not None else ["BadBody", "GetHealth", "Health"],
        "Properties": {"RestApiId": {"Ref": "Api"}},
    }
    return resources


def _changed_api() -> dict[str, Any]:
    # The gateway response changes after the Deployment was named: its hash no longer fits.
    resources = _api()
    resources["BadBody"]["Properties"]["StatusCode"] = "422"
    return resources


def _global_table(*regions: Any) -> dict[str, Any]:
    return {
        "Sessions": {
            "Type": "AWS::DynamoDB::GlobalTable",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                "Replicas": [{"Region": region} for region in regions],
            },
        }
    }


def _log_group(service: str | None) -> dict[str, Any]:
    admin = {
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        "Action": "kms:*",
        "Resource": "*",
    }
    statements = [admin]
    if service:
        statements.append({
            "Effect": "Allow", "Principal": {"Service": [service]},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
        })  # fmt: skip
    return {
        "Key": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "EnableKeyRotation": True,
                "KeyPolicy": {"Version": "2012-10-17", "Statement": statements},
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"RetentionInDays": 30, "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
        },
    }


def _stage(depends: str | None, role: bool = True) -> dict[str, Any]:
    stage: dict[str, Any] = {
        "Type": "AWS::ApiGateway::Stage",
        "Properties": {
            "RestApiId": "api1",
            "DeploymentId": "dep1",
            "MethodSettings": [{"HttpMethod": "*", "ResourcePath": "/*", "LoggingLevel": "ERROR"}],
        },
    }
    if depends:
        stage["DependsOn"] = depends
    account = {"CloudWatchRoleArn": "arn:aws:iam::111111111111:role/logs"} if role else {}
    return {
        "Stage": stage,
        "Account": {"Type": "AWS::ApiGateway::Account", "Properties": account},
    }


_ASL: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def _machine(**definition: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": "arn:aws:iam::111111111111:role/sfn", **definition},
    }


# fmt: off
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (rule, case, resources that break it, resources that keep it)
    ("E9001", "managed-password-on-global-member",
     {"Db": _cluster(MasterUsername="admin", ManageMasterUserPassword=True)},
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword=PASSWORD), "DbSecret": SECRET}),
    ("E9002", "plain-password",
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword="hunter2hunter2")},
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword=PASSWORD), "DbSecret": SECRET}),
    ("E9002", "secret-allows-slash-quote-at",
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword=PASSWORD),
      "DbSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
          **SECRET["Properties"]["GenerateSecretString"], "ExcludeCharacters": "'`"}}}},
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword=PASSWORD), "DbSecret": SECRET}),
    ("E9002", "secret-too-long-for-aurora",
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword=PASSWORD),
      "DbSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
          **SECRET["Properties"]["GenerateSecretString"], "PasswordLength": 64}}}},
     {"Db": _cluster(MasterUsername="admin", MasterUserPassword=PASSWORD), "DbSecret": SECRET}),
    ("E9003", "deprecated-engine-version",
     {"Db": _cluster(EngineVersion="16.6")}, {"Db": _cluster(EngineVersion="16.11")}),
    ("E9003", "global-cluster-version",
     {"G": {"Type": "AWS::RDS::GlobalCluster", "Properties": {
         "Engine": "aurora-postgresql", "EngineVersion": "16.4-limitless"}}},
     {"G": {"Type": "AWS::RDS::GlobalCluster", "Properties": {
         "Engine": "aurora-postgresql", "EngineVersion": "16.11"}}}),
    ("E9004", "no-logging-service-statement",
     _logging_buckets(), {**_logging_buckets(), "LogsPolicy": _logs_policy()}),
    ("E9004", "no-source-account",
     {**_logging_buckets(), "LogsPolicy": _logs_policy({"Condition": {
         "ArnLike": {"aws:SourceArn": [{"Fn::GetAtt": ["Data", "Arn"]}]}}})},
     {**_logging_buckets(), "LogsPolicy": _logs_policy()}),
    ("E9004", "source-arn-misses-a-source",
     {**_logging_buckets(), "LogsPolicy": _logs_policy({"Condition": {
         "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
         "ArnLike": {"aws:SourceArn": "arn:aws:s3:::other-bucket"}}})},
     {**_logging_buckets(), "LogsPolicy": _logs_policy({"Condition": {
         "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
         "ArnLike": {"aws:SourceArn": {"Fn::Sub": f"arn:aws:s3:::trading-data-{ACCOUNT_SUB}"}}}})}),
    ("E9005", "kms-encrypted-log-target",
     {**_logging_buckets({"BucketEncryption": {"ServerSideEncryptionConfiguration": [
         {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}}),
      "LogsPolicy": _logs_policy()},
     {**_logging_buckets(), "LogsPolicy": _logs_policy()}),
    ("E9005", "object-lock-retention-on-log-target",
     {**_logging_buckets({"ObjectLockEnabled": True, "ObjectLockConfiguration": {
         "ObjectLockEnabled": "Enabled",
         "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}}),
      "LogsPolicy": _logs_policy()},
     {**_logging_buckets(), "LogsPolicy": _logs_policy()}),
    ("E9006", "fixed-deployment-id", _api(deployment_id="TradingApiDeployment"), _api()),
    ("E9006", "stale-hash-after-a-change", _changed_api(), _api()),
    ("E9006", "missing-depends-on", _api(depends=["GetHealth"]), _api()),
    ("E9008", "logging-stage-before-account-role", _stage(depends=None), _stage(depends="Account")),
    ("E9008", "account-without-role", _stage(depends="Account", role=False), _stage(depends="Account")),
    ("E9009", "no-replica-in-the-stack-region", _global_table("us-east-2", "us-west-2"),
     _global_table("us-east-1", "us-east-2")),
    ("E9009", "replica-named-by-pseudo-parameter", _global_table("us-west-2"),
     _global_table({"Ref": "AWS::Region"}, "us-east-2")),
    ("E9010", "key-without-logs-service", _log_group(None), _log_group("logs.us-east-1.amazonaws.com")),
    ("E9010", "logs-service-of-another-region", _log_group("logs.us-west-2.amazonaws.com"),
     _log_group("logs.us-east-1.amazonaws.com")),
    ("E9011", "result-path-null-in-definition",
     {"M": _machine(Definition={**_ASL, "States": {"A": {**_ASL["States"]["A"], "ResultPath": None}}})},
     {"M": _machine(DefinitionString=json.dumps(
         {**_ASL, "States": {"A": {**_ASL["States"]["A"], "ResultPath": None}}}))}),
    ("E9007", "encrypted-member-without-key",
     {"Db": {"Type": "AWS::RDS::DBCluster", "Properties": {
         k: v for k, v in _cluster()["Properties"].items() if k != "KmsKeyId"}}},
     {"Db": _cluster()}),
]
# fmt: on


def _template(resources: dict[str, Any]) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def _findings(resources: dict[str, Any], rule: str) -> list[str]:
    found = lint_template(_template(copy.deepcopy(resources)), "us-east-1")
    return [finding for finding in found if finding.startswith(f"[{rule}:")]


@pytest.mark.parametrize(
    ("rule", "bad", "good"),
    [pytest.param(rule, bad, good, id=f"{rule}-{name}") for rule, name, bad, good in CASES],
)
def test_rule_finds_the_breaking_template_and_passes_the_other(
    rule: str, bad: dict[str, Any], good: dict[str, Any]
) -> None:
    assert _findings(bad, rule), f"{rule} is silent on a template that breaks it"
    assert not _findings(good, rule)


def test_every_rule_has_a_case_and_names_its_aws_source() -> None:
    assert {info.id for info in CATALOGUE.values()} == {case[0] for case in CASES}
    for name, info in CATALOGUE.items():
        module = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
        rule = getattr(importlib.import_module(f"trading_dr.rules.{module}"), name)
        assert info.id.startswith("E9")  # cfn-lint's range for users' rules
        assert info.source_url.startswith("https://docs.aws.amazon.com/"), info.id
        assert (rule.id, rule.shortdesc, rule.source_url) == tuple(info)
    assert len(list(RULES_DIR.glob("[A-Za-z]*.py"))) == len(CATALOGUE)


def test_stock_cfn_lint_command_loads_the_pack(tmp_path: Path) -> None:
    rules_path = str(RULES_DIR)
    bad = tmp_path / "bad.json"
    bad.write_text(_template(CASES[0][2]), encoding="utf-8")
    cfn_lint = shutil.which("cfn-lint") or f"{Path(sys.executable).parent}/cfn-lint"
    result = subprocess.run(
        [cfn_lint, "-a", rules_path, "--regions", "us-east-1", "--", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "E9001" in result.stdout, result.stdout + result.stderr
