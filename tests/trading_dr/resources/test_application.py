"""The trade path: queues, functions, event source mapping, REST API and custom domains."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.assertions import as_list, has_resource_properties, resource_count_is
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role
from trading_dr.resources.api import TRADE_REQUEST_SCHEMA

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]
SHARED_FUNCTIONS = (
    "IntakeFunction",
    "ProcessorFunction",
    "HealthFunction",
    "ShipperFunction",
    "ReconcilerFunction",
)


def _props(env: str, role: Role, name: str) -> dict[str, Any]:
    props: dict[str, Any] = template(env, role)["Resources"][name]["Properties"]
    return props


def _statements(env: str, role: Role, function: str) -> dict[str, dict[str, Any]]:
    (policy,) = _props(env, role, f"{function}Role")["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_trade_queue_redrives_to_an_encrypted_dlq(env: str, role: Role) -> None:
    queue = _props(env, role, "TradeQueue")
    dlq = _props(env, role, "TradeDeadLetterQueue")
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["TradeDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] == 6 * _props(env, role, "ProcessorFunction")["Timeout"]
    for props in (queue, dlq):
        assert props["KmsMasterKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_functions_are_private_traced_and_bounded(env: str, role: Role) -> None:
    for name in SHARED_FUNCTIONS:
        props = _props(env, role, name)
        assert props["Runtime"] == "python3.12"
        assert props["VpcConfig"]["SecurityGroupIds"] == [
            {"Fn::GetAtt": ["LambdaSecurityGroup", "GroupId"]}
        ]
        assert props["VpcConfig"]["SubnetIds"] == [
            {"Ref": "PrivateSubnetA"},
            {"Ref": "PrivateSubnetB"},
        ]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["ReservedConcurrentExecutions"] >= 1
        assert props["KmsKeyArn"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        assert props["Code"]["S3Bucket"] == {"Ref": "ArtifactBucket"}
        assert props["Code"]["S3Key"].startswith(f"lambda/{name.removesuffix('Function').lower()}-")
        log_group = _props(env, role, f"{name}LogGroup")
        assert log_group["RetentionInDays"] == environment(env).log_retention_days
        assert log_group["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_processor_consumes_with_partial_batch_failures(env: str, role: Role) -> None:
    has_resource_properties(
        template(env, role),
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": ["TradeQueue", "Arn"]},
            "FunctionName": {"Ref": "ProcessorFunction"},
            "BatchSize": 100,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 10},
        },
    )


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_function_grants_are_exactly_what_each_needs(env: str, role: Role) -> None:
    intake = _statements(env, role, "IntakeFunction")
    assert intake["ReadSessions"]["Action"] == ["dynamodb:GetItem"]
    assert intake["SendTrades"]["Action"] == ["sqs:SendMessage"]
    assert intake["SendTrades"]["Resource"] == [{"Fn::GetAtt": ["TradeQueue", "Arn"]}]
    processor = _statements(env, role, "ProcessorFunction")
    assert processor["WriteAuditRecords"]["Action"] == ["s3:PutObject"]
    assert processor["WriteAuditRecords"]["Resource"] == [
        {"Fn::Sub": ["${Arn}/trades/*", {"Arn": {"Fn::GetAtt": ["AuditBucket", "Arn"]}}]}
    ]
    assert processor["ConnectAsAppUser"]["Action"] == ["rds-db:connect"]
    health = _statements(env, role, "HealthFunction")
    assert health["ReadTradeQueueAttributes"]["Action"] == ["sqs:GetQueueAttributes"]
    for statements in (intake, processor, health):
        assert "ReadMasterSecret" not in statements, "app functions log in with IAM tokens"
        for statement in statements.values():
            assert all(not a.endswith("*") for a in as_list(statement["Action"]))


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_shipper_logs_in_as_the_audit_user_and_writes_only_audit_records(
    env: str, role: Role
) -> None:
    # Both regions: only the writer's database lets it delete, and after a failover the
    # new writer's shipper drains what the old one left.
    props = _props(env, role, "ShipperFunction")
    assert props["Environment"]["Variables"]["DB_AUTH"] == "iam"
    assert props["Environment"]["Variables"]["DB_USER"] == "trading_audit"
    assert props["Environment"]["Variables"]["AUDIT_BUCKET"] == {"Ref": "AuditBucket"}
    assert props["ReservedConcurrentExecutions"] == 1
    shipper = _statements(env, role, "ShipperFunction")
    assert shipper["ConnectAsAuditUser"]["Action"] == ["rds-db:connect"]
    [login] = shipper["ConnectAsAuditUser"]["Resource"]
    assert login["Fn::Sub"][0].endswith("/trading_audit")
    assert (
        shipper["WriteAuditRecords"]
        == _statements(env, role, "ProcessorFunction")["WriteAuditRecords"]
    )
    assert "ConnectAsAppUser" not in shipper, "the shipper cannot touch trades"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_shipper_runs_every_minute(env: str, role: Role) -> None:
    rule = _props(env, role, "AuditShipRule")
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"] == [
        {"Id": "shipper", "Arn": {"Fn::GetAtt": ["ShipperFunction", "Arn"]}, "Input": "{}"}
    ]
    permission = _props(env, role, "AuditShipRuleInvokePermission")
    assert permission["SourceArn"] == {"Fn::GetAtt": ["AuditShipRule", "Arn"]}
    assert permission["Principal"] == "events.amazonaws.com"


def test_only_the_writer_region_has_the_migrator() -> None:
    primary = template("prod", Role.PRIMARY)
    secondary = template("prod", Role.SECONDARY)
    assert "MigrateFunction" in primary["Resources"]
    assert "MigrateFunction" not in secondary["Resources"]
    statements = _statements("prod", Role.PRIMARY, "MigrateFunction")
    assert statements["ReadMasterSecret"]["Resource"] == [{"Ref": "DbMasterSecret"}]
    environment = primary["Resources"]["MigrateFunction"]["Properties"]["Environment"]
    assert environment["Variables"]["DB_SECRET_ARN"] == {"Ref": "DbMasterSecret"}


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_api_validates_trades_and_routes_both_paths(env: str, role: Role) -> None:
    t = template(env, role)
    resource_count_is(t, "AWS::ApiGateway::Method", 2)
    post = _props(env, role, "PostTradesMethod")
    assert post["HttpMethod"] == "POST"
    assert post["RequestValidatorId"] == {"Ref": "TradeRequestValidator"}
    assert post["Integration"]["Type"] == "AWS_PROXY"
    schema = json.loads(_props(env, role, "TradeRequestModel")["Schema"])
    assert "session_token" in schema["required"]
    assert schema["properties"]["side"]["enum"] == ["BUY", "SELL"]
    response = _props(env, role, "BadRequestBodyResponse")
    assert (
        "$context.error.validationErrorString" in response["ResponseTemplates"]["application/json"]
    )
    assert _props(env, role, "GetHealthMethod")["HttpMethod"] == "GET"
    assert _props(env, role, "TradingApi")["DisableExecuteApiEndpoint"] is True


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_stage_logs_throttles_and_traces(env: str, role: Role) -> None:
    stage = _props(env, role, "TradingApiStage")
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    assert set(json.loads(stage["AccessLogSetting"]["Format"])) >= {"requestId", "status"}
    (setting,) = stage["MethodSettings"]
    assert setting["ThrottlingRateLimit"] > 0
    assert setting["ThrottlingBurstLimit"] >= setting["ThrottlingRateLimit"]
    assert setting["DataTraceEnabled"] is False


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_custom_domains_tls12_on_a_dns_validated_certificate(env: str, role: Role) -> None:
    domain = environment(env).domain
    region = environment(env).region_settings(role).region
    certificate = _props(env, role, "ApiCertificate")
    assert certificate["DomainName"] == f"api.{domain}"
    assert certificate["SubjectAlternativeNames"] == [f"{region}.api.{domain}"]
    assert certificate["ValidationMethod"] == "DNS"
    assert {o["HostedZoneId"]["Ref"] for o in certificate["DomainValidationOptions"]} == {
        "HostedZoneId"
    }
    for name, expected in (
        ("FailoverDomain", f"api.{domain}"),
        ("RegionalDomain", f"{region}.api.{domain}"),
    ):
        props = _props(env, role, name)
        assert props["DomainName"] == expected
        assert props["SecurityPolicy"] == "TLS_1_2"
        assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
        assert _props(env, role, f"{name}Mapping")["Stage"] == {"Ref": "TradingApiStage"}
    record = _props(env, role, "RegionalApiRecord")
    assert record["Name"] == f"{region}.api.{domain}."
    assert record["AliasTarget"]["DNSName"] == {
        "Fn::GetAtt": ["RegionalDomain", "RegionalDomainName"]
    }


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_only_the_validator_runs_outside_the_vpc(env: str, role: Role) -> None:
    """It must reach Route 53, RDS and the peer's public /health, which the VPC cannot."""
    validator = _props(env, role, "ValidatorFunction")
    assert "VpcConfig" not in validator
    assert "ManageVpcNetworkInterfaces" not in _statements(env, role, "ValidatorFunction")
    for name in SHARED_FUNCTIONS:
        assert "ManageVpcNetworkInterfaces" in _statements(env, role, name)


def test_gateway_schema_follows_the_trade_model() -> None:
    """The API model repeats the trade's fields (the generator cannot import Lambda code):
    this keeps the two in step, so the gateway never refuses what intake accepts."""
    from trading_shared.trade import REQUEST_FIELDS, OrderType, Side

    schema = TRADE_REQUEST_SCHEMA
    assert list(schema["properties"]) == list(REQUEST_FIELDS)
    assert schema["required"] == [f for f in REQUEST_FIELDS if f != "limit_price"]
    assert schema["properties"]["side"]["enum"] == [s.value for s in Side]
    assert schema["properties"]["order_type"]["enum"] == [o.value for o in OrderType]


JOURNAL_REPLICA = {
    "Fn::Sub": [
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}",
        {"Table": {"Ref": "JournalTableName"}},
    ]
}


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_intake_may_only_add_journal_entries(env: str, role: Role) -> None:
    intake = _statements(env, role, "IntakeFunction")
    assert intake["JournalTrades"]["Action"] == ["dynamodb:PutItem"]
    assert as_list(intake["JournalTrades"]["Resource"]) == [JOURNAL_REPLICA]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_reconciler_queries_the_pending_index_and_clears_markers_only(env: str, role: Role) -> None:
    # GIVEN the reconciler's grants
    grants = _statements(env, role, "ReconcilerFunction")

    # THEN it may Query only the pending index (no Scan, no table read), UpdateItem the
    # table (the marker), send to its own queue, and read trades as the app user
    query = grants["QueryPendingJournal"]
    assert query["Action"] == ["dynamodb:Query"]
    [index] = as_list(query["Resource"])
    assert index["Fn::Sub"][0].endswith("table/${Table}/index/pending-by-minute")
    assert grants["ClearReconciledJournal"]["Action"] == ["dynamodb:UpdateItem"]
    assert as_list(grants["ClearReconciledJournal"]["Resource"]) == [JOURNAL_REPLICA]
    assert as_list(grants["SendTrades"]["Resource"]) == [{"Fn::GetAtt": ["TradeQueue", "Arn"]}]
    assert grants["ConnectAsAppUser"]["Action"] == ["rds-db:connect"]
    actions = {a for s in grants.values() for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("dynamodb:")} - {
        "dynamodb:Query", "dynamodb:UpdateItem",
    }  # fmt: skip


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_reconciler_runs_every_minute_with_the_configured_timing(env: str, role: Role) -> None:
    journal = environment(env).journal
    variables = _props(env, role, "ReconcilerFunction")["Environment"]["Variables"]
    assert variables["GRACE_SECONDS"] == str(journal.grace_s)
    assert variables["PASS_INTERVAL_SECONDS"] == str(journal.pass_interval_s)
    assert variables["LOOKBACK_MINUTES"] == str(journal.lookback_minutes)
    rule = _props(env, role, "ReconcileRule")
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ReconcilerFunction", "Arn"]}


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_processor_sends_deferred_trades_back_to_its_own_queue(env: str, role: Role) -> None:
    grants = _statements(env, role, "ProcessorFunction")
    assert as_list(grants["SendTrades"]["Resource"]) == [{"Fn::GetAtt": ["TradeQueue", "Arn"]}]
    variables = _props(env, role, "ProcessorFunction")["Environment"]["Variables"]
    assert variables["TRADE_QUEUE_URL"] == {"Ref": "TradeQueue"}
    assert 0 < int(variables["DEFER_DELAY_SECONDS"]) <= 900  # SQS DelaySeconds range
