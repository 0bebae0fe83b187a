"""The project's rules pack: cfn-lint custom rules, one per AWS-documented constraint that
cfn-lint's own rules do not check and a real account enforces. Each rule names the AWS
document it comes from (`source_url`); IDs are in cfn-lint's E9xxx range, reserved for users'
rules. This module is the catalogue (plain data, no cfn-lint import: the audit report lists
it on every `generate.py` run); each rule file (the class name in snake case) holds one
cfn-lint rule class.

`generate.py` runs the pack with cfn-lint's own rules (trading_dr.lint) and fails on a
finding. With the stock command, on any template, give cfn-lint this directory:

    cfn-lint -a src/trading_dr/rules template.yaml          # from a checkout
    cfn-lint -a "$(python -c 'import trading_dr.rules as r; print(r.RULES_DIR)')" t.yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from trading_dr.engine_versions import GLOBAL_DATABASE_DOC

RULES_DIR = Path(__file__).resolve().parent


class RuleInfo(NamedTuple):
    id: str
    shortdesc: str
    source_url: str


# rule class name -> what it checks and where AWS documents it.
CATALOGUE: dict[str, RuleInfo] = {
    "RdsGlobalMemberManagedPassword": RuleInfo(
        "E9001",
        "No ManageMasterUserPassword on an Aurora global database member",
        (
            "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
            "rds-secrets-manager.html#rds-secrets-manager-limitations"
        ),
    ),
    "RdsMasterPasswordSecret": RuleInfo(
        "E9002",
        "Aurora master password: a generated secret with characters Aurora accepts",
        ("https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html"),
    ),
    "RdsGlobalEngineVersion": RuleInfo(
        "E9003",
        "Aurora global database engine version is creatable and global-capable",
        GLOBAL_DATABASE_DOC,
    ),
    "S3AccessLogDelivery": RuleInfo(
        "E9004",
        "Access log target bucket policy allows logging.s3.amazonaws.com, scoped",
        (
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
            "enable-server-access-logging.html#grant-log-delivery-permissions-general"
        ),
    ),
    "S3AccessLogTarget": RuleInfo(
        "E9005",
        "Access log target bucket: SSE-S3 only, no Object Lock default retention",
        ("https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"),
    ),
    "ApiGatewayDeploymentSnapshot": RuleInfo(
        "E9006",
        "API Gateway Deployment: content-hash logical id, depends on its snapshot",
        (
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
            "aws-resource-apigateway-deployment.html"
        ),
    ),
    "RdsGlobalMemberKmsKey": RuleInfo(
        "E9007",
        "Encrypted Aurora global database member has a KmsKeyId",
        (
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
            "aws-resource-rds-dbcluster.html#cfn-rds-dbcluster-kmskeyid"
        ),
    ),
    "ApiGatewayStageLoggingRole": RuleInfo(
        "E9008",
        "API Gateway stage with logging depends on the account's CloudWatch role setting",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html",
    ),
    "DynamoDbGlobalTableLocalReplica": RuleInfo(
        "E9009",
        "DynamoDB global table has a replica in its stack's region",
        (
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
            "aws-resource-dynamodb-globaltable.html#cfn-dynamodb-globaltable-replicas"
        ),
    ),
    "LogsKmsKeyPolicy": RuleInfo(
        "E9010",
        "KMS key of a log group allows CloudWatch Logs of the region",
        ("https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"),
    ),
    "StepFunctionsDefinitionNull": RuleInfo(
        "E9011",
        "State machine Definition object holds no null (DefinitionString carries ASL nulls)",
        (
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
            "aws-resource-stepfunctions-statemachine.html#cfn-stepfunctions-statemachine-definition"
        ),
    ),
}
