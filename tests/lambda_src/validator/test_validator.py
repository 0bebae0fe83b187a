"""The readiness validator against moto: a healthy secondary region, then one thing broken
at a time; the peer probe and self-verification with a scripted HTTP fetch.

moto gaps filled here, and only here: DescribeTable of a DynamoDB global table carries the
`Replicas` of its other regions, which moto does not model, so the fixture adds them to
the response with a botocore hook (`replicas`, editable per test). CloudWatch, RDS global
clusters, S3 versioning/replication, Route 53 health check status and SSM are moto's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import validator_handler
import validator_logic
from moto import mock_aws
from validator_logic import (
    FULL,
    RECOVERY,
    Clients,
    Settings,
    SettingsError,
    probe_peer,
    publish_fence,
    publish_readiness,
    readiness,
    verify,
)

HERE, PEER = "us-east-2", "us-east-1"
GLOBAL_ID = "trading-prod-global"
TABLE = "user-sessions-prod"
BUCKETS = (
    "trading-prod-config-us-east-2-123456789012",
    "trading-prod-audit-us-east-2-123456789012",
)
PREFIX = "/trading/prod/secondary/"
FENCE = "/trading/prod/secondary/failover/fence"


@dataclass
class World:
    clients: Clients
    settings: Settings
    replicas: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(minutes=1))

    def report(
        self, scope: str = FULL, mode: str | None = None, accept_data_loss: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = readiness(
            self.clients, self.settings, scope, mode, self.now, accept_data_loss
        ).as_dict()
        return result

    def check(self, name: str, scope: str = FULL) -> dict[str, Any]:
        checks = {c["name"]: c for c in self.report(scope)["checks"]}
        found: dict[str, Any] = checks[name]
        return found

    def put_lag(self, milliseconds: float) -> None:
        self.clients.cloudwatch.put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "AuroraGlobalDBReplicationLag",
                    "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "trading-prod-db"}],
                    "Value": milliseconds,
                    "Unit": "Milliseconds",
                }
            ],
        )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": HERE,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield _healthy_world()


def _healthy_world() -> World:
    rds_peer, rds = boto3.client("rds", PEER), boto3.client("rds", HERE)
    rds_peer.create_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, Engine="aurora-postgresql", EngineVersion="16.6"
    )
    engine: dict[str, Any] = {"Engine": "aurora-postgresql", "EngineVersion": "16.6"}
    rds_peer.create_db_cluster(
        DBClusterIdentifier="trading-prod-db",
        GlobalClusterIdentifier=GLOBAL_ID,
        MasterUsername="trading_admin",
        MasterUserPassword="not-a-real-password",
        **engine,
    )
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="trading-prod-db", GlobalClusterIdentifier=GLOBAL_ID, **engine
    )["DBCluster"]
    dynamodb = boto3.client("dynamodb", HERE)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "session_token", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "session_token", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3 = boto3.client("s3", HERE)
    for bucket in BUCKETS:
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-east-2"}
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(
            Bucket=bucket,
            ReplicationConfiguration={
                "Role": "arn:aws:iam::123456789012:role/replication",
                "Rules": [
                    {
                        "ID": "to-peer",
                        "Status": "Enabled",
                        "Priority": 1,
                        "Filter": {},
                        "DeleteMarkerReplication": {"Status": "Disabled"},
                        "Destination": {"Bucket": f"arn:aws:s3:::{bucket.replace(HERE, PEER)}"},
                    }
                ],
            },
        )
    route53 = boto3.client("route53")
    check_id = route53.create_health_check(
        CallerReference="validator-test",
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": f"{HERE}.api.trading.example.com",
            "ResourcePath": "/health",
            "Port": 443,
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    ssm = boto3.client("ssm", HERE)
    ssm.put_parameter(Name=f"{PREFIX}db-endpoint", Value=cluster["Endpoint"], Type="String")
    ssm.put_parameter(Name=f"{PREFIX}health-check-id", Value=check_id, Type="String")
    settings = Settings(
        environment="prod",
        region=HERE,
        peer_region=PEER,
        global_cluster_id=GLOBAL_ID,
        db_cluster_arn=cluster["DBClusterArn"],
        db_cluster_id="trading-prod-db",
        sessions_table=TABLE,
        buckets=BUCKETS,
        replication_expected=True,
        health_check_id=check_id,
        self_health_url=f"https://{HERE}.api.trading.example.com/health",
        peer_health_url=f"https://{PEER}.api.trading.example.com/health",
        ssm_prefix=PREFIX,
        max_lag_s=30,
        namespace="TradingDR",
        probe_interval_s=10,
        probe_samples=5,
        fence_parameter=FENCE,
        fence_namespace="TradingDR/Fence",
        rpo_target_s=60,
    )
    world = World(
        Clients(
            rds=rds,
            cloudwatch=boto3.client("cloudwatch", HERE),
            dynamodb=dynamodb,
            s3=s3,
            route53=route53,
            ssm=ssm,
        ),
        settings,
        replicas=[{"RegionName": PEER, "ReplicaStatus": "ACTIVE"}],
    )

    def add_replicas(parsed: dict[str, Any], **_: Any) -> None:
        if "Table" in parsed:
            parsed["Table"]["Replicas"] = world.replicas

    dynamodb.meta.events.register("after-call.dynamodb.DescribeTable", add_replicas)
    world.put_lag(800)
    return world


def test_healthy_region_is_ready(world: World) -> None:
    report = world.report()
    assert report["ready"] is True, report
    assert report["failed"] == []
    assert {c["name"] for c in report["checks"]} == {
        "global_cluster",
        "replication_lag",
        "sessions_replica",
        "bucket_replication",
        "health_check",
        "ssm_parameters",
    }
    assert world.check("replication_lag")["detail"] == "worst lag 0.800 s (limit 30 s)"
    assert "writer in the peer region" in world.check("global_cluster")["detail"]


def test_recovery_scope_makes_no_route53_call_and_skips_the_peer_dependent_checks(
    world: World,
) -> None:
    calls: list[str] = []
    world.clients.route53.meta.events.register(
        "before-call.route53.*", lambda model, **_: calls.append(model.name)
    )
    unplanned = world.report(RECOVERY, "unplanned")
    assert unplanned["ready"] is True
    assert {c["name"] for c in unplanned["checks"]} == {
        "global_cluster",
        "sessions_replica",
        "ssm_parameters",
        "last_known_lag",
    }
    assert calls == []
    # A planned switchover must not lose data: the lag is checked too.
    planned = world.report(RECOVERY, "planned")
    assert "replication_lag" in {c["name"] for c in planned["checks"]}


def test_cluster_not_a_member(world: World) -> None:
    world.settings = replace(
        world.settings, db_cluster_arn="arn:aws:rds:us-east-2:123456789012:cluster:other"
    )
    report = world.report()
    assert report["ready"] is False
    assert "global_cluster" in report["failed"]
    assert "is not a member" in world.check("global_cluster")["detail"]


def test_global_cluster_missing(world: World) -> None:
    world.settings = replace(world.settings, global_cluster_id="nonexistent")
    assert world.check("global_cluster")["ok"] is False
    assert "not found" in world.check("global_cluster")["detail"]


def test_lag_above_the_limit(world: World) -> None:
    world.put_lag(45_000)
    check = world.check("replication_lag")
    assert check["ok"] is False
    assert check["detail"] == "worst lag 45.000 s (limit 30 s)"


def test_no_lag_reported(world: World) -> None:
    world.now = datetime.now(UTC) + timedelta(hours=1)
    check = world.check("replication_lag")
    assert check["ok"] is False
    assert "no replication lag reported" in check["detail"]


@pytest.mark.parametrize(
    ("replicas", "detail"),
    [
        ([], "no replica in us-east-1"),
        ([{"RegionName": PEER, "ReplicaStatus": "CREATING"}], "replica in us-east-1 is CREATING"),
    ],
)
def test_sessions_replica_not_active(
    world: World, replicas: list[dict[str, Any]], detail: str
) -> None:
    world.replicas = replicas
    check = world.check("sessions_replica")
    assert check["ok"] is False
    assert detail in check["detail"]


def test_sessions_table_missing(world: World) -> None:
    world.clients.dynamodb.delete_table(TableName=TABLE)
    check = world.check("sessions_replica")
    assert check["ok"] is False
    assert check["detail"].startswith("ResourceNotFoundException")


def test_bucket_replication_removed(world: World) -> None:
    world.clients.s3.delete_bucket_replication(Bucket=BUCKETS[1])
    check = world.check("bucket_replication")
    assert check["ok"] is False
    assert f"{BUCKETS[1]}: no replication configuration" in check["detail"]


def test_bucket_versioning_suspended(world: World) -> None:
    world.clients.s3.put_bucket_versioning(
        Bucket=BUCKETS[0], VersioningConfiguration={"Status": "Suspended"}
    )
    check = world.check("bucket_replication")
    assert check["ok"] is False
    assert f"{BUCKETS[0]}: versioning Suspended" in check["detail"]


def test_replication_not_expected_before_the_link_stage(world: World) -> None:
    for bucket in BUCKETS:
        world.clients.s3.delete_bucket_replication(Bucket=bucket)
    world.settings = replace(world.settings, replication_expected=False)
    check = world.check("bucket_replication")
    assert check["ok"] is True
    assert "not linked yet" in check["detail"]


def test_ssm_parameter_drifted(world: World) -> None:
    world.clients.ssm.put_parameter(
        Name=f"{PREFIX}db-endpoint", Value="old.example.com", Type="String", Overwrite=True
    )
    check = world.check("ssm_parameters")
    assert check["ok"] is False
    assert "db-endpoint is 'old.example.com'" in check["detail"]


def test_health_check_deleted(world: World) -> None:
    world.clients.route53.delete_health_check(HealthCheckId=world.settings.health_check_id)
    check = world.check("health_check")
    assert check["ok"] is False


def test_one_metric_per_check_and_failover_readiness(world: World) -> None:
    world.put_lag(45_000)
    report = readiness(world.clients, world.settings, FULL, None, world.now)
    publish_readiness(world.clients.cloudwatch, world.settings, report)
    metrics = world.clients.cloudwatch.list_metrics(Namespace="TradingDR")["Metrics"]
    by_check = {
        d["Value"]
        for m in metrics
        if m["MetricName"] == "ReadinessCheck"
        for d in m["Dimensions"]
        if d["Name"] == "Check"
    }
    assert by_check == {c.name for c in report.checks}
    value = world.clients.cloudwatch.get_metric_statistics(
        Namespace="TradingDR",
        MetricName="FailoverReadiness",
        Dimensions=[{"Name": "Environment", "Value": "prod"}, {"Name": "Scope", "Value": FULL}],
        StartTime=world.now - timedelta(minutes=5),
        EndTime=world.now,
        Period=60,
        Statistics=["Minimum"],
    )["Datapoints"]
    assert [p["Minimum"] for p in value] == [0.0]


def test_probe_samples_on_schedule_and_publishes_each(world: World) -> None:
    statuses = iter([200, 503, 0, 200, 200])
    clock = [0.0]
    slept: list[float] = []

    def fetch(url: str) -> int:
        assert url == world.settings.peer_health_url
        clock[0] += 0.5  # each request takes half a second
        return next(statuses)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    result = probe_peer(
        world.clients.cloudwatch, world.settings, fetch, sleep=sleep, clock=lambda: clock[0]
    )
    assert result["statuses"] == [200, 503, 0, 200, 200]
    # Samples start 10 s apart however long each request took.
    assert slept == [9.5, 9.5, 9.5, 9.5]
    stats = world.clients.cloudwatch.get_metric_statistics(
        Namespace="TradingDR",
        MetricName="PeerHealthy",
        Dimensions=[
            {"Name": "Environment", "Value": "prod"},
            {"Name": "PeerRegion", "Value": PEER},
        ],
        StartTime=world.now - timedelta(minutes=5),
        EndTime=world.now,
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert [(p["Sum"], p["SampleCount"]) for p in stats] == [(3.0, 5.0)]


@pytest.mark.parametrize(("status", "serving"), [(200, True), (503, False), (0, False)])
def test_verify(world: World, status: int, serving: bool) -> None:
    result = verify(world.settings, lambda url: status)
    assert result["serving"] is serving
    assert result["detail"] == {"url": world.settings.self_health_url, "status": status}


def test_handler_dispatches_and_returns_json(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    s = world.settings
    environ = {
        "AWS_REGION": HERE,
        "ENVIRONMENT": s.environment,
        "PEER_REGION": s.peer_region,
        "GLOBAL_CLUSTER_ID": s.global_cluster_id,
        "DB_CLUSTER_ARN": s.db_cluster_arn,
        "DB_CLUSTER_ID": s.db_cluster_id,
        "SESSIONS_TABLE_NAME": s.sessions_table,
        "REPLICATED_BUCKETS": ",".join(s.buckets),
        "REPLICATION_EXPECTED": "true",
        "HEALTH_CHECK_ID": s.health_check_id,
        "SELF_HEALTH_URL": s.self_health_url,
        "PEER_HEALTH_URL": s.peer_health_url,
        "SSM_PREFIX": s.ssm_prefix,
        "FENCE_PARAMETER": s.fence_parameter,
        "FENCE_NAMESPACE": s.fence_namespace,
        "RPO_TARGET_S": "60",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(validator_handler, "_clients", world.clients)
    monkeypatch.setattr(validator_handler, "fetch", lambda url: 503)
    result = validator_handler.handler({"action": "verify"}, None)
    assert json.loads(json.dumps(result)) == {
        "action": "verify",
        "serving": False,
        "detail": {"url": s.self_health_url, "status": 503},
    }
    report = validator_handler.handler(
        {"action": "readiness", "scope": RECOVERY, "mode": "unplanned"}, None
    )
    assert report["scope"] == RECOVERY
    assert report["ready"] is True
    with pytest.raises(ValueError, match="unknown action"):
        validator_handler.handler({"action": "explode"}, None)


def test_settings_name_every_missing_variable() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_environ({"AWS_REGION": HERE, "ENVIRONMENT": "prod"})
    assert "GLOBAL_CLUSTER_ID" in str(error.value)
    assert "PEER_HEALTH_URL" in str(error.value)
    assert "FENCE_PARAMETER" in str(error.value)


def test_unplanned_recovery_tolerates_a_degraded_global_view(world: World) -> None:
    from moto.rds.models import rds_backends

    rds_backends["123456789012"]["us-east-1"].global_clusters[GLOBAL_ID].status = "modifying"
    # Hourly and planned: the status must be available.
    assert world.check("global_cluster")["ok"] is False
    assert world.report(RECOVERY, "planned")["ready"] is False
    # Unplanned (the writer's region may be gone): membership is what matters.
    unplanned = world.report(RECOVERY, "unplanned")
    assert unplanned["ready"] is True
    assert "status modifying" in unplanned["checks"][0]["detail"]


# -- unplanned failover: the data it would lose ----------------------------------------


@pytest.mark.parametrize(
    ("lag_ms", "accept", "ok", "detail"),
    [
        (800, False, True, "last known lag 0.800 s at "),
        (60_000, False, True, "(RPO target 60 s)"),
        (600_000, False, False, "exceeds the RPO target 60 s; refused: pass accept_data_loss"),
        (600_000, True, True, "accepted by the operator (accept_data_loss)"),
    ],
    ids=["small", "at-target", "too-high", "too-high-accepted"],
)
def test_unplanned_refuses_a_last_known_lag_above_the_rpo_target(
    world: World, lag_ms: float, accept: bool, ok: bool, detail: str
) -> None:
    world.put_lag(lag_ms)
    report = world.report(RECOVERY, "unplanned", accept_data_loss=accept)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["last_known_lag"]["ok"] is ok, checks["last_known_lag"]
    assert detail in checks["last_known_lag"]["detail"]
    assert report["ready"] is ok


def test_the_last_known_lag_is_the_latest_not_the_worst(world: World) -> None:
    cw = world.clients.cloudwatch
    for minutes_ago, lag_ms in ((10, 900_000), (2, 500)):
        cw.put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "AuroraGlobalDBReplicationLag",
                    "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "trading-prod-db"}],
                    "Timestamp": world.now - timedelta(minutes=minutes_ago),
                    "Value": lag_ms,
                    "Unit": "Milliseconds",
                }
            ],
        )
    checks = {c["name"]: c for c in world.report(RECOVERY, "unplanned")["checks"]}
    assert checks["last_known_lag"]["ok"] is True, checks["last_known_lag"]


def test_unknown_lag_is_refused_without_the_flag(world: World) -> None:
    world.settings = replace(world.settings, db_cluster_id="no-metrics-for-this-one")
    refused = {c["name"]: c for c in world.report(RECOVERY, "unplanned")["checks"]}
    assert refused["last_known_lag"]["ok"] is False
    assert "so the loss is unknown" in refused["last_known_lag"]["detail"]
    accepted = world.report(RECOVERY, "unplanned", accept_data_loss=True)
    assert "last_known_lag" not in accepted["failed"]


def test_the_handler_accepts_only_a_json_true(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def spy(c: Clients, s: Settings, scope: str, mode: str | None, **kwargs: Any) -> Any:
        seen.append(kwargs["accept_data_loss"])
        return readiness(c, s, scope, mode, **kwargs)

    # The handler's dispatch (validator_logic.dispatch) calls readiness.
    monkeypatch.setattr(validator_logic, "readiness", spy)
    monkeypatch.setattr(validator_handler, "_clients", world.clients)
    monkeypatch.setattr(Settings, "from_environ", lambda env: world.settings)
    for flag in (True, "true", 1, None):
        validator_handler.handler(
            {
                "action": "readiness",
                "scope": RECOVERY,
                "mode": "unplanned",
                "accept_data_loss": flag,
            },
            None,
        )
    assert seen == [True, False, False, False]


# -- the fence publisher -----------------------------------------------------------------


def _fence_datapoints(world: World) -> list[float]:
    stats = world.clients.cloudwatch.get_metric_statistics(
        Namespace="TradingDR/Fence",
        MetricName="PeerFenced",
        Dimensions=[
            {"Name": "Environment", "Value": "prod"},
            {"Name": "FencedRegion", "Value": PEER},
        ],
        StartTime=world.now - timedelta(minutes=10),
        EndTime=world.now + timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum"],
    )
    return [p["Maximum"] for p in stats["Datapoints"]]


@pytest.mark.parametrize(
    ("value", "published"),
    [(None, 0.0), ("fenced", 1.0), ("released", 0.0), ("garbage", 0.0)],
    ids=["never-set", "fenced", "released", "unknown-value"],
)
def test_the_fence_parameter_is_republished_as_a_metric(
    world: World, value: str | None, published: float
) -> None:
    if value is not None:
        world.clients.ssm.put_parameter(Name=FENCE, Value=value, Type="String")
    result = publish_fence(world.clients.cloudwatch, world.clients.ssm, world.settings)
    assert result == {"parameter": FENCE, "value": value, "fenced": published == 1.0}
    assert _fence_datapoints(world) == [published]


def test_the_probe_action_republishes_the_fence_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.clients.ssm.put_parameter(Name=FENCE, Value="fenced", Type="String")
    monkeypatch.setattr(validator_handler, "_clients", world.clients)
    monkeypatch.setattr(Settings, "from_environ", lambda env: world.settings)
    monkeypatch.setattr(validator_handler, "fetch", lambda url: 0)
    monkeypatch.setattr("time.sleep", lambda s: None)
    result = validator_handler.handler({"action": "probe"}, None)
    assert result["fence"]["fenced"] is True
    assert _fence_datapoints(world) == [1.0]
