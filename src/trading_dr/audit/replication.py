"""Replication and backup: what replicates where and how, and how long data is kept."""

from __future__ import annotations

from trading_dr.audit.model import Json, Section, Templates, of_type, props, show, table
from trading_dr.audit.names import Namer


def _unless_if(value: Json) -> tuple[Json, str]:
    """A property behind Fn::If: its 'true' branch and the condition that turns it on."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, _ = value["Fn::If"]
        return when_true, f"only when condition {condition} holds"
    return value, ""


def _replication_rows(templates: Templates) -> list[tuple[str, ...]]:
    namer = Namer(templates)
    return [
        *_aurora_rows(templates, namer),
        *_global_table_rows(templates),
        *_bucket_rows(templates, namer),
    ]


def _aurora_rows(templates: Templates, namer: Namer) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for role, logical, r in of_type(templates, "AWS::RDS::GlobalCluster"):
        p = props(r)
        rows.append(
            (
                role.value,
                logical,
                "Aurora global database (storage-level, async)",
                f"{show(p.get('Engine'))} {show(p.get('EngineVersion'))}",
                "every member cluster",
                "",
            )
        )
    for role, logical, r in of_type(templates, "AWS::RDS::DBCluster"):
        p = props(r)
        if "GlobalClusterIdentifier" in p:
            writer = "writer (holds master credentials)" if "MasterUsername" in p else "secondary"
            rows.append(
                (
                    role.value,
                    logical,
                    "member of the Aurora global cluster",
                    namer.name(role, p["GlobalClusterIdentifier"]),
                    writer,
                    "",
                )
            )
    return rows


def _global_table_rows(templates: Templates) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for role, logical, r in of_type(templates, "AWS::DynamoDB::GlobalTable"):
        p = props(r)
        regions = ", ".join(show(x.get("Region")) for x in p.get("Replicas", []))
        stream = show(p.get("StreamSpecification", {}).get("StreamViewType", "-"))
        rows.append(
            (
                role.value,
                logical,
                "DynamoDB global table (multi-active)",
                regions,
                f"stream {stream}",
                "",
            )
        )
    return rows


def _bucket_rows(templates: Templates, namer: Namer) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for role, logical, r in of_type(templates, "AWS::S3::Bucket"):
        config, condition = _unless_if(props(r).get("ReplicationConfiguration"))
        if not isinstance(config, dict):
            continue
        for rule in config.get("Rules", []):
            destination = rule.get("Destination", {})
            rtc = destination.get("ReplicationTime", {})
            how = "S3 replication"
            if rtc.get("Status") == "Enabled":
                how += f" with RTC ({rtc['Time']['Minutes']} min)"
            deletes = rule.get("DeleteMarkerReplication", {}).get("Status", "Disabled")
            rows.append(
                (
                    role.value,
                    f"{logical} rule {rule.get('Id', '-')}",
                    how,
                    namer.name(role, destination.get("Bucket")),
                    f"delete markers {deletes}",
                    condition,
                )
            )
    return rows


def _lifecycle(p: Json) -> str:
    parts = []
    for rule in p.get("LifecycleConfiguration", {}).get("Rules", []):
        steps = []
        if "ExpirationInDays" in rule:
            steps.append(f"expire after {rule['ExpirationInDays']} d")
        for transition in rule.get("Transitions", []):
            steps.append(f"{transition['StorageClass']} after {transition['TransitionInDays']} d")
        if "NoncurrentVersionExpiration" in rule:
            days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            steps.append(f"old versions expire after {days} d")
        parts.append(f"{rule.get('Id', '-')}: {', '.join(steps) or 'housekeeping'}")
    return "; ".join(parts) or "none"


def _retention_rows(templates: Templates) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for role, logical, r in of_type(
        templates,
        "AWS::RDS::DBCluster",
        "AWS::DynamoDB::GlobalTable",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::Logs::LogGroup",
    ):
        p, kind = props(r), r["Type"]
        policy = "/".join(str(r[k]) for k in ("DeletionPolicy", "UpdateReplacePolicy") if k in r)
        if kind == "AWS::RDS::DBCluster":
            keep = (
                f"automated backups {show(p.get('BackupRetentionPeriod', 1))} d, deletion "
                f"protection {show(p.get('DeletionProtection', False))}"
            )
        elif kind == "AWS::DynamoDB::GlobalTable":
            pitr = [
                show(
                    x.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
                )
                for x in p.get("Replicas", [])
            ]
            keep = f"PITR per replica: {', '.join(pitr)} (35 d window)"
        elif kind == "AWS::S3::Bucket":
            versioning = show(p.get("VersioningConfiguration", {}).get("Status", "off"))
            lock = p.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
            keep = f"versioning {versioning}; lifecycle {_lifecycle(p)}"
            if lock:
                keep += f"; Object Lock {lock.get('Mode')} {lock.get('Days', lock.get('Years'))} d"
        elif kind == "AWS::SQS::Queue":
            seconds = int(p.get("MessageRetentionPeriod", 345600))
            keep = f"messages kept {seconds // 86400} d {seconds % 86400 // 3600} h"
        else:
            keep = f"retention {show(p.get('RetentionInDays', 'NEVER EXPIRES'))} d"
        rows.append((role.value, logical, kind, keep, policy or "Delete (default)"))
    return rows


def replication_section(templates: Templates) -> Section:
    return Section(
        "Replication and backup",
        ("What crosses regions, by which mechanism, and how long each store keeps data.",),
        (
            table(
                ("template", "what", "mechanism", "to / of", "detail", "condition"),
                _replication_rows(templates),
                "replication",
            ),
            table(
                ("template", "store", "type", "retention and backup", "deletion / replace"),
                _retention_rows(templates),
                "retention and backup",
            ),
        ),
    )
