"""Failover readiness, the peer probe and self-verification, over boto3 clients passed in.

Each check returns a `Check` and never raises: a readiness report that crashes on the
first broken dependency would hide every other one. Which checks run depends on the scope:
`full` (hourly) runs all; `recovery` (the failover workflow, possibly while the other
region is down) runs only what the promotion of *this* region depends on and makes no
call to Route 53's API, which is served from us-east-1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FULL = "full"
RECOVERY = "recovery"
LAG_WINDOW = timedelta(minutes=5)
# An unplanned failover judges the data it would lose by the last lag Aurora reported;
# during an outage the metric may stop, so look back further than for a planned one.
LAST_KNOWN_LAG_WINDOW = timedelta(hours=3)
FENCE_SET = "fenced"  # as the failover workflow writes it (trading_dr/resources/failover/)


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    environment: str
    region: str
    peer_region: str
    global_cluster_id: str
    db_cluster_arn: str
    db_cluster_id: str
    sessions_table: str
    buckets: tuple[str, ...]
    replication_expected: bool
    health_check_id: str
    self_health_url: str
    peer_health_url: str
    ssm_prefix: str
    max_lag_s: float
    namespace: str
    probe_interval_s: float
    probe_samples: int
    fence_parameter: str
    fence_namespace: str
    rpo_target_s: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        names = {
            "environment": "ENVIRONMENT",
            "region": "AWS_REGION",
            "peer_region": "PEER_REGION",
            "global_cluster_id": "GLOBAL_CLUSTER_ID",
            "db_cluster_arn": "DB_CLUSTER_ARN",
            "db_cluster_id": "DB_CLUSTER_ID",
            "sessions_table": "SESSIONS_TABLE_NAME",
            "buckets": "REPLICATED_BUCKETS",
            "health_check_id": "HEALTH_CHECK_ID",
            "self_health_url": "SELF_HEALTH_URL",
            "peer_health_url": "PEER_HEALTH_URL",
            "ssm_prefix": "SSM_PREFIX",
            "fence_parameter": "FENCE_PARAMETER",
            "fence_namespace": "FENCE_NAMESPACE",
        }
        missing = sorted(var for var in names.values() if not environ.get(var))
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        try:
            return cls(
                **{k: environ[v] for k, v in names.items() if k != "buckets"},
                buckets=tuple(b for b in environ["REPLICATED_BUCKETS"].split(",") if b),
                replication_expected=environ.get("REPLICATION_EXPECTED", "true") == "true",
                max_lag_s=float(environ.get("MAX_REPLICATION_LAG_S", "30")),
                namespace=environ.get("METRIC_NAMESPACE", "TradingDR"),
                probe_interval_s=float(environ.get("PROBE_INTERVAL_S", "10")),
                probe_samples=int(environ.get("PROBE_SAMPLES", "6")),
                rpo_target_s=float(environ.get("RPO_TARGET_S", "60")),
            )
        except ValueError as exc:
            raise SettingsError(f"malformed number in the environment: {exc}") from None


@dataclass(frozen=True)
class Clients:
    rds: Any
    cloudwatch: Any
    dynamodb: Any
    s3: Any
    route53: Any
    ssm: Any


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Report:
    scope: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": "readiness",
            "scope": self.scope,
            "ready": self.ready,
            "failed": [c.name for c in self.checks if not c.ok],
            "checks": [c.as_dict() for c in self.checks],
        }


def _guarded(name: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, detail = probe()
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    return Check(name, ok, detail)


def _global_cluster(c: Clients, s: Settings) -> dict[str, Any]:
    clusters = c.rds.describe_global_clusters(GlobalClusterIdentifier=s.global_cluster_id)
    found: list[dict[str, Any]] = [
        g
        for g in clusters.get("GlobalClusters", [])
        if g["GlobalClusterIdentifier"] == s.global_cluster_id
    ]
    if not found:
        raise LookupError(f"global cluster {s.global_cluster_id} not found")
    return found[0]


def check_global_cluster(c: Clients, s: Settings, *, strict: bool = True) -> tuple[bool, str]:
    """Strict: available, this member in it, one writer, a secondary to fail over to.
    Not strict (an unplanned failover, the writer's region possibly gone): only that this
    cluster is still a member, since the global view may be degraded by the outage."""
    cluster = _global_cluster(c, s)
    members = cluster.get("GlobalClusterMembers", [])
    arns = [m["DBClusterArn"] for m in members]
    writers = [m["DBClusterArn"] for m in members if m.get("IsWriter")]
    problems = []
    if s.db_cluster_arn not in arns:
        problems.append(f"{s.db_cluster_arn} is not a member")
    if strict and cluster.get("Status") != "available":
        problems.append(f"status is {cluster.get('Status')}")
    if strict and len(writers) != 1:
        problems.append(f"{len(writers)} writers")
    if strict and len(members) < 2:
        problems.append(f"{len(members)} member(s); a failover needs a secondary")
    if problems:
        return False, "; ".join(problems)
    where = "here" if s.db_cluster_arn in writers else "in the peer region" if writers else "none"
    return True, f"{len(members)} members, status {cluster.get('Status')}, writer {where}"


def _writer_is_here(c: Clients, s: Settings) -> bool:
    writer = next(
        (m for m in _global_cluster(c, s)["GlobalClusterMembers"] if m.get("IsWriter")), None
    )
    return writer is not None and writer["DBClusterArn"] == s.db_cluster_arn


def _lag_data(c: Clients, s: Settings, start: datetime, end: datetime, **extra: Any) -> Any:
    """AuroraGlobalDBReplicationLag (ms) of this member, per-minute maxima."""
    return c.cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "lag",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/RDS",
                        "MetricName": "AuroraGlobalDBReplicationLag",
                        "Dimensions": [{"Name": "DBClusterIdentifier", "Value": s.db_cluster_id}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=start,
        EndTime=end,
        **extra,
    )


def check_replication_lag(c: Clients, s: Settings, now: datetime) -> tuple[bool, str]:
    if _writer_is_here(c, s):
        return True, "this member is the writer; it replicates, it does not lag"
    data = _lag_data(c, s, now - LAG_WINDOW, now)
    values = [v for r in data["MetricDataResults"] for v in r.get("Values", [])]
    if not values:
        return False, f"no replication lag reported in the last {LAG_WINDOW.seconds // 60} min"
    worst_s = max(values) / 1000
    return worst_s <= s.max_lag_s, f"worst lag {worst_s:.3f} s (limit {s.max_lag_s:g} s)"


def check_last_known_lag(
    c: Clients, s: Settings, now: datetime, accept_data_loss: bool
) -> tuple[bool, str]:
    """Unplanned failover: what would be lost is about the last replication lag Aurora
    reported here. Above the RPO target (or unknown) the failover is refused unless an
    operator accepted the loss explicitly."""
    if _writer_is_here(c, s):
        return True, "this member is the writer; nothing to lose"
    # Through the end of the current period, so the latest datapoint is included.
    data = _lag_data(
        c, s, now - LAST_KNOWN_LAG_WINDOW, now + timedelta(minutes=1), ScanBy="TimestampDescending"
    )
    points = sorted(
        (
            (t, v)
            for r in data["MetricDataResults"]
            for t, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False)
        ),
        reverse=True,
    )
    limit = f"RPO target {s.rpo_target_s:g} s"
    if not points:
        verdict = f"no replication lag reported in {LAG_WINDOW_TEXT}, so the loss is unknown"
    else:
        at, lag_ms = points[0]
        lag_s = lag_ms / 1000
        verdict = f"last known lag {lag_s:.3f} s at {_iso(at)}"
        if lag_s <= s.rpo_target_s:
            return True, f"{verdict} ({limit})"
        verdict += f" exceeds the {limit}"
    if accept_data_loss:
        return True, f"{verdict}; accepted by the operator (accept_data_loss)"
    return False, f"{verdict}; refused: pass accept_data_loss to fail over anyway"


LAG_WINDOW_TEXT = f"{int(LAST_KNOWN_LAG_WINDOW.total_seconds() // 3600)} h"


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def check_sessions_replica(c: Clients, s: Settings) -> tuple[bool, str]:
    table = c.dynamodb.describe_table(TableName=s.sessions_table)["Table"]
    replicas = {r["RegionName"]: r.get("ReplicaStatus") for r in table.get("Replicas", [])}
    problems = []
    if table.get("TableStatus") != "ACTIVE":
        problems.append(f"table is {table.get('TableStatus')}")
    if s.peer_region not in replicas:
        problems.append(f"no replica in {s.peer_region}")
    # DescribeTable lists the other regions' replicas (some SDK views include this one).
    problems += [f"replica in {r} is {st}" for r, st in replicas.items() if st != "ACTIVE"]
    if problems:
        return False, "; ".join(problems)
    return True, f"ACTIVE here, replicas {sorted(replicas)}"


def check_bucket_replication(c: Clients, s: Settings) -> tuple[bool, str]:
    problems, notes = [], []
    for bucket in s.buckets:
        versioning = c.s3.get_bucket_versioning(Bucket=bucket).get("Status")
        if versioning != "Enabled":
            problems.append(f"{bucket}: versioning {versioning or 'never enabled'}")
        if not s.replication_expected:
            notes.append(f"{bucket}: not linked yet")
            continue
        try:
            rules = c.s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
        except Exception as exc:
            problems.append(f"{bucket}: no replication configuration ({type(exc).__name__})")
            continue
        enabled = [r for r in rules if r.get("Status") == "Enabled"]
        if not enabled:
            problems.append(f"{bucket}: no enabled replication rule")
        else:
            notes.append(f"{bucket}: {len(enabled)} rule(s) enabled")
    return not problems, "; ".join(problems or notes)


def check_health_check(c: Clients, s: Settings) -> tuple[bool, str]:
    reports = c.route53.get_health_check_status(HealthCheckId=s.health_check_id)[
        "HealthCheckObservations"
    ]
    healthy = sum(1 for r in reports if r["StatusReport"]["Status"].startswith("Success"))
    # Route 53 counts an endpoint healthy when more than 18% of its checkers do.
    ok = bool(reports) and healthy / len(reports) > 0.18
    return ok, f"{healthy}/{len(reports)} checkers report success"


def check_ssm_parameters(c: Clients, s: Settings) -> tuple[bool, str]:
    params = {
        p["Name"].removeprefix(s.ssm_prefix): p["Value"]
        for page in c.ssm.get_paginator("get_parameters_by_path").paginate(Path=s.ssm_prefix)
        for p in page["Parameters"]
    }
    cluster = c.rds.describe_db_clusters(DBClusterIdentifier=s.db_cluster_arn)["DBClusters"][0]
    expected = {"db-endpoint": cluster["Endpoint"], "health-check-id": s.health_check_id}
    problems = [
        f"{name} is {params.get(name)!r}, expected {value!r}"
        for name, value in expected.items()
        if params.get(name) != value
    ]
    return not problems, "; ".join(problems) or f"{len(expected)} parameters consistent"


def readiness(
    c: Clients,
    s: Settings,
    scope: str,
    mode: str | None = None,
    now: datetime | None = None,
    accept_data_loss: bool = False,
) -> Report:
    """Run the checks of `scope`; in a planned switchover the lag must be fine too, in an
    unplanned one the last known lag must be within the RPO target (or accepted)."""
    at = now or datetime.now(UTC)
    checks: dict[str, Callable[[], tuple[bool, str]]] = {
        "global_cluster": lambda: check_global_cluster(
            c, s, strict=scope == FULL or mode == "planned"
        ),
        "sessions_replica": lambda: check_sessions_replica(c, s),
        "ssm_parameters": lambda: check_ssm_parameters(c, s),
    }
    if scope == FULL or mode == "planned":
        checks["replication_lag"] = lambda: check_replication_lag(c, s, at)
    if scope == RECOVERY and mode == "unplanned":
        checks["last_known_lag"] = lambda: check_last_known_lag(c, s, at, accept_data_loss)
    if scope == FULL:
        checks["bucket_replication"] = lambda: check_bucket_replication(c, s)
        checks["health_check"] = lambda: check_health_check(c, s)
    return Report(scope, [_guarded(name, probe) for name, probe in checks.items()])


def publish_readiness(cloudwatch: Any, s: Settings, report: Report) -> None:
    env = {"Name": "Environment", "Value": s.environment}
    data = [
        {
            "MetricName": "ReadinessCheck",
            "Dimensions": [env, {"Name": "Check", "Value": check.name}],
            "Value": 1.0 if check.ok else 0.0,
            "Unit": "Count",
        }
        for check in report.checks
    ]
    data.append(
        {
            "MetricName": "FailoverReadiness",
            "Dimensions": [env, {"Name": "Scope", "Value": report.scope}],
            "Value": 1.0 if report.ready else 0.0,
            "Unit": "Count",
        }
    )
    cloudwatch.put_metric_data(Namespace=s.namespace, MetricData=data)


Fetch = Callable[[str], int]


def probe_peer(
    cloudwatch: Any,
    s: Settings,
    fetch: Fetch,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Sample the peer's /health `probe_samples` times, `probe_interval_s` apart, and
    publish each sample at once (high resolution: the alarm reads 10 s periods)."""
    start = clock()
    samples = []
    for i in range(s.probe_samples):
        if i:
            sleep(max(0.0, start + i * s.probe_interval_s - clock()))
        status = fetch(s.peer_health_url)
        healthy = status == 200
        samples.append(status)
        cloudwatch.put_metric_data(
            Namespace=s.namespace,
            MetricData=[
                {
                    "MetricName": "PeerHealthy",
                    "Dimensions": [
                        {"Name": "Environment", "Value": s.environment},
                        {"Name": "PeerRegion", "Value": s.peer_region},
                    ],
                    "Value": 1.0 if healthy else 0.0,
                    "Unit": "Count",
                    "StorageResolution": 1,
                }
            ],
        )
    return {"action": "probe", "url": s.peer_health_url, "statuses": samples}


def publish_fence(cloudwatch: Any, ssm: Any, s: Settings) -> dict[str, Any]:
    """Republish the fence this region holds on its peer (the SSM parameter the failover
    workflow writes) as `PeerFenced`, so the alarm-based Route 53 check always has data.
    No parameter yet means no fence was ever set: 0."""
    try:
        value = ssm.get_parameter(Name=s.fence_parameter)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        value = None
    fenced = value == FENCE_SET
    cloudwatch.put_metric_data(
        Namespace=s.fence_namespace,
        MetricData=[
            {
                "MetricName": "PeerFenced",
                "Dimensions": [
                    {"Name": "Environment", "Value": s.environment},
                    {"Name": "FencedRegion", "Value": s.peer_region},
                ],
                "Value": 1.0 if fenced else 0.0,
                "Unit": "Count",
            }
        ],
    )
    return {"parameter": s.fence_parameter, "value": value, "fenced": fenced}


def verify(s: Settings, fetch: Fetch) -> dict[str, Any]:
    """Does this region's own API name answer /health with 200 (the writer is here and
    every dependency answers)? The workflow calls this last."""
    status = fetch(s.self_health_url)
    return {
        "action": "verify",
        "serving": status == 200,
        "detail": {"url": s.self_health_url, "status": status},
    }


def dispatch(
    c: Clients,
    s: Settings,
    event: Mapping[str, Any],
    fetch: Fetch,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What the handler answers `event`: the per-minute probe (the fence first: it must
    reach CloudWatch every minute whatever the probe meets), a verification, or readiness
    (published, then reported)."""
    action = event.get("action", "readiness")
    if action == "probe":
        fence = publish_fence(c.cloudwatch, c.ssm, s)
        return {**probe_peer(c.cloudwatch, s, fetch), "fence": fence}
    if action == "verify":
        return verify(s, fetch)
    if action == "readiness":
        report = readiness(
            c,
            s,
            event.get("scope", FULL),
            event.get("mode"),
            now=now,
            # Only an explicit JSON true accepts data loss.
            accept_data_loss=event.get("accept_data_loss") is True,
        )
        publish_readiness(c.cloudwatch, s, report)
        return report.as_dict()
    raise ValueError(f"unknown action {action!r}; use readiness, probe or verify")
