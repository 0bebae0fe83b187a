"""Alarms and the encrypted alarm topic in both regional templates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.assertions import has_resource_properties, resources_of_type
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]


def _alarm(env: str, role: Role, logical: str) -> dict[str, Any]:
    props: dict[str, Any] = template(env, role)["Resources"][logical]["Properties"]
    return props


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_topic_is_encrypted_with_its_own_key_and_mails_the_oncall(env: str, role: Role) -> None:
    t = template(env, role)
    topic = t["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
    has_resource_properties(
        t,
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": environment(env).alarm_email,
            "TopicArn": {"Ref": "AlarmTopic"},
        },
    )
    policy = t["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = next(s for s in policy if s["Sid"] == "CloudWatchAlarmsPublish")
    assert cloudwatch["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}
    }
    # The data key names no service principal: CloudWatch's grant is on the topic key only.
    data = t["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert all("Service" not in s.get("Principal", {}) for s in data)


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_every_alarm_notifies_the_topic(env: str, role: Role) -> None:
    alarms = resources_of_type(template(env, role), "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 11
    composites = resources_of_type(template(env, role), "AWS::CloudWatch::CompositeAlarm")
    for name, alarm in alarms.items():
        assert "TreatMissingData" in alarm["Properties"], name
        if "AlarmActions" not in alarm["Properties"]:
            # Silent only where composite alarms that notify speak for it.
            quoted = f'ALARM("{alarm["Properties"]["AlarmName"]}")'
            speakers = [c for c in composites.values() if quoted in c["Properties"]["AlarmRule"]]
            assert speakers, name
            for composite in speakers:
                assert composite["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
            continue
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_aurora_lag_alarm_on_the_local_member_in_milliseconds(env: str, role: Role) -> None:
    alarm = _alarm(env, role, "AuroraReplicationLagAlarm")
    assert alarm["MetricName"] == "AuroraGlobalDBReplicationLag"
    assert alarm["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": {"Ref": "DbCluster"}}]
    assert alarm["Threshold"] == environment(env).failover.replication_lag_alarm_s * 1000
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # Silent while this member is the writer (no metric), not an alarm.
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_lambda_error_rate_is_metric_math_over_one_percent(env: str, role: Role) -> None:
    # The validator too: it decides on failover, so its own failures must page someone.
    for function in ("Intake", "Processor", "Health", "Shipper", "Validator"):
        alarm = _alarm(env, role, f"{function}ErrorRateAlarm")
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        assert queries["rate"]["Expression"] == "IF(invocations > 0, 100 * errors / invocations, 0)"
        assert queries["errors"]["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": f"{function}Function"}}
        ]
        assert [q["Id"] for q in alarm["Metrics"] if q["ReturnData"]] == ["rate"]
        assert alarm["Threshold"] == 1


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_api_dlq_s3_and_dynamodb_alarms(env: str, role: Role) -> None:
    api = [
        {"Name": "ApiName", "Value": f"trading-{env}-api"},
        {"Name": "Stage", "Value": "prod"},
    ]
    latency = _alarm(env, role, "ApiLatencyAlarm")
    assert (latency["ExtendedStatistic"], latency["Threshold"], latency["Dimensions"]) == (
        "p99",
        500,
        api,
    )
    errors = _alarm(env, role, "Api5xxAlarm")
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == (
        "5XXError",
        "Average",
        0.01,
    )
    dlq = _alarm(env, role, "DeadLetterQueueAlarm")
    assert dlq["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["TradeDeadLetterQueue", "QueueName"]}}
    ]
    assert (dlq["Threshold"], dlq["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    for purpose in ("Config", "Audit"):
        s3 = _alarm(env, role, f"{purpose}ReplicationFailedAlarm")
        assert s3["MetricName"] == "OperationsFailedReplication"
        dims = {d["Name"]: d["Value"] for d in s3["Dimensions"]}
        assert dims["RuleId"] == f"{purpose.lower()}-to-peer"
        # The rule id is the one storage.py gives the replication rule.
        bucket = template(env, role)["Resources"][f"{purpose}Bucket"]["Properties"]
        rule = bucket["ReplicationConfiguration"]["Fn::If"][1]["Rules"][0]
        assert rule["Id"] == dims["RuleId"]
    sessions = _alarm(env, role, "SessionsReplicationLatencyAlarm")
    peer = environment(env).region_settings(
        Role.PRIMARY if role is Role.SECONDARY else Role.SECONDARY
    )
    assert {"Name": "ReceivingRegion", "Value": peer.region} in sessions["Dimensions"]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_peer_unhealthy_alarm_reads_the_high_resolution_probe(env: str, role: Role) -> None:
    alarm = _alarm(env, role, "PeerUnhealthyAlarm")
    peer = environment(env).region_settings(
        Role.PRIMARY if role is Role.SECONDARY else Role.SECONDARY
    )
    assert (alarm["Namespace"], alarm["MetricName"]) == ("TradingDR", "PeerHealthy")
    assert {"Name": "PeerRegion", "Value": peer.region} in alarm["Dimensions"]
    assert alarm["Period"] == 10
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    # The probe publishes what the alarm reads: same namespace, metric and period.
    validator = template(env, role)["Resources"]["ValidatorFunction"]["Properties"]
    variables = validator["Environment"]["Variables"]
    assert variables["PROBE_INTERVAL_S"] == str(alarm["Period"])
    assert (
        variables["PEER_HEALTH_URL"]
        == f"https://{peer.region}.api.{environment(env).domain}/health?probe=liveness"
    )
    assert (
        template(env, role)["Resources"]["PeerProbeRule"]["Properties"]["ScheduleExpression"]
        == "rate(1 minute)"
    )


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_audit_outbox_alarm_reads_what_the_shipper_publishes(env: str, role: Role) -> None:
    # The shipper is Lambda code the generator cannot import: the test holds both in step.
    import shipper_handler

    alarm = _alarm(env, role, "AuditOutboxAgeAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "TradingDR", shipper_handler.OUTBOX_AGE_METRIC,
    )  # fmt: skip
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": shipper_handler.SERVICE},
        {"Name": "Environment", "Value": environment(env).suffix},
    ]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == 600
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_journal_rpo_alarm_reads_what_the_reconciler_publishes(env: str, role: Role) -> None:
    # The reconciler is Lambda code the generator cannot import: the test holds both in step.
    import reconciler_handler

    alarm = _alarm(env, role, "JournalRpoAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "TradingDR", reconciler_handler.OLDEST_AGE_METRIC,
    )  # fmt: skip
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": reconciler_handler.SERVICE},
        {"Name": "Environment", "Value": environment(env).suffix},
    ]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == environment(env).failover.rpo_target_s
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
