"""The sections of an environment's settings (region, database, storage, failover,
journal, deployment): each a frozen dataclass validated field by field, its messages
saying what is wrong and how to fix it. `config.Environment` holds one of each."""

from __future__ import annotations

import difflib
import importlib.util
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from trading_dr.validation import Bounds

# Aurora global databases run on memory-optimised classes only (AWS: "Aurora global
# databases: instance classes"); a burstable writer would also break the RPO target.
INSTANCE_CLASS_RE = re.compile(r"^db\.(r[5-8][a-z]*|x2g)\.[0-9]*x?large$")


@cache
def known_regions() -> frozenset[str]:
    """Commercial AWS regions, read from botocore's partition data rather than a typed list.

    partitions.json is located without importing botocore, and is 1/100 the size of
    endpoints.json: both matter to the start-up time of `generate.py`.
    """
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("botocore is not installed; fix: pip install -e .")
    path = Path(spec.submodule_search_locations[0], "data", "partitions.json")
    partitions = json.loads(path.read_text(encoding="utf-8"))["partitions"]
    regions = next(p for p in partitions if p["id"] == "aws")["regions"]
    # aws-global is a signing pseudo-region, not a place to deploy.
    return frozenset(name for name in regions if name != "aws-global")


def _network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ValueError(
            f"'{value}' is not a valid IPv4 CIDR ({exc}); fix: write it as a.b.c.d/n with "
            "the host bits zero, e.g. 10.0.0.0/16"
        ) from None


@dataclass(frozen=True, kw_only=True)
class RegionSettings:
    """One region's placement and address plan."""

    region: str
    vpc_cidr: str
    public_subnets: tuple[str, str]
    private_subnets: tuple[str, str]

    @classmethod
    def _check_region(cls, value: str, earlier: Mapping[str, Any]) -> str:
        if value not in known_regions():
            close = difflib.get_close_matches(value, sorted(known_regions()), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "use an AWS region code"
            raise ValueError(f"unknown AWS region '{value}'; fix: {hint} (e.g. us-east-1)")
        return value

    @classmethod
    def _check_vpc_cidr(cls, value: str, earlier: Mapping[str, Any]) -> str:
        net = _network(value)
        if not 16 <= net.prefixlen <= 24:
            raise ValueError(
                f"VPC CIDR {value} is a /{net.prefixlen}; fix: use a prefix between /16 and "
                "/24 so four subnets fit (e.g. 10.0.0.0/16)"
            )
        if not net.is_private:
            raise ValueError(f"VPC CIDR {value} is not private; fix: use an RFC 1918 range")
        return value

    @classmethod
    def _check_public_subnets(
        cls, value: tuple[str, str], earlier: Mapping[str, Any]
    ) -> tuple[str, str]:
        nets = [_network(cidr) for cidr in value]
        for cidr, net in zip(value, nets, strict=True):
            if not 16 <= net.prefixlen <= 28:
                raise ValueError(
                    f"subnet {cidr} is a /{net.prefixlen}; fix: use a prefix between /16 and /28"
                )
        vpc_cidr = earlier.get("vpc_cidr")
        if vpc_cidr is None:  # the VPC CIDR itself failed; that error is reported instead
            return value
        vpc = ipaddress.IPv4Network(vpc_cidr)
        for cidr, net in zip(value, nets, strict=True):
            if not net.subnet_of(vpc):
                raise ValueError(
                    f"subnet {cidr} lies outside the VPC {vpc_cidr}; fix: pick a subnet "
                    f"inside {vpc_cidr}"
                )
        # Called for public_subnets first, then for private_subnets with the public ones
        # in `earlier`: every pair of the four is compared once.
        others = [_network(c) for c in earlier.get("public_subnets", ())] + nets
        for i, a in enumerate(others):
            for b in others[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(
                        f"subnets {a} and {b} overlap; fix: give every subnet its own range"
                    )
        return value

    _check_private_subnets = _check_public_subnets


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    engine_version: str = "16.11"
    instance_class: str = "db.r6g.large"
    backup_retention_days: Annotated[int, Bounds(7, 35)] = 7
    master_username: str = "trading_admin"
    database_name: str = "trading"

    @classmethod
    def _check_engine_version(cls, value: str, earlier: Mapping[str, Any]) -> str:
        # Deprecated and unknown versions are refused with the valid list (cfn-lint's data
        # at the pinned release, filtered to global-database versions): see engine_versions.
        from trading_dr.engine_versions import check_engine_version

        check_engine_version(value)
        return value

    @classmethod
    def _check_instance_class(cls, value: str, earlier: Mapping[str, Any]) -> str:
        if not INSTANCE_CLASS_RE.match(value):
            raise ValueError(
                f"'{value}' is not supported by Aurora global databases; fix: use a "
                "memory-optimised class such as db.r6g.large or db.r7g.xlarge"
            )
        return value

    @classmethod
    def _check_master_username(cls, value: str, earlier: Mapping[str, Any]) -> str:
        if not re.match(r"^[a-z][a-z0-9_]{0,62}$", value) or value in {"postgres", "rdsadmin"}:
            raise ValueError(
                f"'{value}' is not a usable PostgreSQL identifier; fix: start with a letter, "
                "use lower-case letters, digits and _ (not 'postgres' or 'rdsadmin')"
            )
        return value

    _check_database_name = _check_master_username


class ArchiveMode(StrEnum):
    EXPIRE = "expire"
    GLACIER = "glacier"


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    audit_retention_days: Annotated[int, Bounds(1, 3650)] = 90
    # After retention, audit objects are deleted ("expire") or moved to Glacier Deep Archive.
    audit_after_retention: ArchiveMode = ArchiveMode.EXPIRE
    audit_archive_days: Annotated[int, Bounds(1, 3650)] = 365
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    noncurrent_version_days: Annotated[int, Bounds(1, 3650)] = 30

    @classmethod
    def _check_audit_archive_days(cls, value: int, earlier: Mapping[str, Any]) -> int:
        retention = earlier.get("audit_retention_days")
        archiving = earlier.get("audit_after_retention") is ArchiveMode.GLACIER
        if archiving and retention is not None and value <= retention:
            raise ValueError(
                f"{value} days ends the archive before audit_retention_days ({retention}) "
                "ends; fix: keep archived records longer than the retention period"
            )
        return value


@dataclass(frozen=True, kw_only=True)
class FailoverSettings:
    # Route 53 accepts 10 or 30 s and the interval cannot change after creation.
    health_check_interval_s: Literal[10, 30] = 10
    health_check_failure_threshold: Annotated[int, Bounds(1, 10)] = 3
    rto_target_s: Annotated[int, Bounds(1, 86400)] = 60
    rpo_target_s: Annotated[int, Bounds(1, 86400)] = 60
    replication_lag_alarm_s: Annotated[int, Bounds(1, 3600)] = 30
    # Where the observer runs: neither the primary's nor the secondary's region.
    observer_region: str = "us-west-2"

    @classmethod
    def _check_observer_region(cls, value: str, earlier: Mapping[str, Any]) -> str:
        return RegionSettings._check_region(value, earlier)

    @classmethod
    def _check_replication_lag_alarm_s(cls, value: int, earlier: Mapping[str, Any]) -> int:
        rpo = earlier.get("rpo_target_s")
        if rpo is not None and value >= rpo:
            raise ValueError(
                f"{value} s is not below rpo_target_s ({rpo} s); fix: lower the alarm "
                "threshold so the lag alarm fires before the RPO is breached"
            )
        return value


@dataclass(frozen=True, kw_only=True)
class JournalSettings:
    """The intake journal (a DynamoDB global table) and the reconciler that replays it."""

    # DynamoDB TTL deletes entries this many days after acceptance; the reconciler only
    # looks back `lookback_minutes`, so anything longer only serves audits and retries.
    ttl_days: Annotated[int, Bounds(1, 365)] = 7
    # An entry younger than this is still on its way through the queue, not stranded.
    grace_s: Annotated[int, Bounds(5, 3600)] = 20
    # How often the reconciler passes over the journal (several passes per invocation,
    # as EventBridge schedules run at most once a minute).
    pass_interval_s: Annotated[int, Bounds(5, 60)] = 15
    # How far back each pass reads; a trade stranded longer is past any RPO target and
    # was alarmed on long before (the alarm fires at rpo_target_s).
    lookback_minutes: Annotated[int, Bounds(5, 1440)] = 60

    @classmethod
    def _check_lookback_minutes(cls, value: int, earlier: Mapping[str, Any]) -> int:
        grace = earlier.get("grace_s")
        if grace is not None and value * 60 <= 2 * grace:
            raise ValueError(
                f"{value} min does not reach past twice grace_s ({grace} s); fix: look back "
                "further than the grace period, or no entry is ever old enough to replay"
            )
        return value


@dataclass(frozen=True, kw_only=True)
class DeploymentSettings:
    failure_tolerance_count: Annotated[int, Bounds(0, 10)] = 0
    max_concurrent_count: Annotated[int, Bounds(1, 10)] = 1

    @classmethod
    def _check_max_concurrent_count(cls, value: int, earlier: Mapping[str, Any]) -> int:
        # StackSetOperationPreferences (STRICT_FAILURE_TOLERANCE, the default): the actual
        # concurrency is the lower of MaxConcurrentCount and FailureToleranceCount + 1.
        tolerance = earlier.get("failure_tolerance_count")
        if tolerance is not None and value > tolerance + 1:
            raise ValueError(
                f"{value} is more than failure_tolerance_count + 1 ({tolerance + 1}): "
                "StackSets would silently run at most that many at once; fix: set "
                f"max_concurrent_count to at most {tolerance + 1} or raise the tolerance"
            )
        return value
