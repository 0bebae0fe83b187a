"""Typed, validated settings of one environment (environments/<name>.yaml).

No troposphere here: config is plain data that every builder reads through the stack
context. Every validation message says what is wrong *and* how to fix it, because the
reader is an engineer looking at a failed CI job, not at this file.
"""

from __future__ import annotations

import difflib
import importlib.util
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from trading_dr.errors import ConfigError
from trading_dr.validation import Bounds, SettingsError, build

SUFFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,10}[a-z0-9]$|^[a-z]$")
# RFC 1035 labels, at least two of them, lower case so the zone name is canonical.
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HOSTED_ZONE_RE = re.compile(r"^Z[A-Z0-9]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$", re.IGNORECASE)
# Aurora global databases run on memory-optimised classes only (AWS: "Aurora global
# databases: instance classes"); a burstable writer would also break the RPO target.
INSTANCE_CLASS_RE = re.compile(r"^db\.(r[5-8][a-z]*|x2g)\.[0-9]*x?large$")
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


class Role(StrEnum):
    """Which of the templates a stack is."""

    GLOBAL = "global"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    # A third region probing both regions, so an automatic failover needs two vantage
    # points to agree that the primary is down.
    OBSERVER = "observer"


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


@dataclass(frozen=True, kw_only=True)
class Environment:
    """One environment: everything the generator and deployer need to know."""

    name: str
    suffix: str
    accounts: tuple[str, ...]
    domain: str
    hosted_zone_id: str | None = None
    alarm_email: str
    primary: RegionSettings
    secondary: RegionSettings
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    journal: JournalSettings = field(default_factory=JournalSettings)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)
    log_retention_days: int = 90
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def _check_suffix(cls, value: str, earlier: Mapping[str, Any]) -> str:
        if not SUFFIX_RE.match(value):
            raise ValueError(
                f"'{value}' cannot be used in S3 bucket names; fix: use 1-12 lower-case "
                "letters, digits or hyphens, starting with a letter and not ending in a hyphen"
            )
        return value

    @classmethod
    def _check_accounts(cls, value: tuple[str, ...], earlier: Mapping[str, Any]) -> tuple[str, ...]:
        if not value:
            raise ValueError("no target account; fix: list at least one 12-digit account id")
        for account in value:
            if not re.fullmatch(r"\d{12}", account):
                raise ValueError(
                    f"account id '{account}' is not 12 digits; fix: quote it in YAML "
                    '("012345678901") so leading zeros survive'
                )
        if len(set(value)) != len(value):
            raise ValueError("an account id is listed twice; fix: list each account once")
        return value

    @classmethod
    def _check_domain(cls, value: str, earlier: Mapping[str, Any]) -> str:
        if not DOMAIN_RE.match(value):
            raise ValueError(
                f"'{value}' is not a valid domain name; fix: use a lower-case DNS name "
                "such as trading.example.com (no scheme, no trailing dot)"
            )
        return value

    @classmethod
    def _check_hosted_zone_id(cls, value: str | None, earlier: Mapping[str, Any]) -> str | None:
        if value is not None and not HOSTED_ZONE_RE.match(value):
            raise ValueError(
                f"'{value}' is not a Route 53 hosted zone id; fix: use the id such as "
                "Z0123456789ABCDEFGHIJ, or remove the key to create a zone"
            )
        return value

    @classmethod
    def _check_alarm_email(cls, value: str, earlier: Mapping[str, Any]) -> str:
        if not EMAIL_RE.match(value):
            raise ValueError(f"'{value}' is not an e-mail address; fix: use e.g. ops@example.com")
        return value

    @classmethod
    def _check_log_retention_days(cls, value: int, earlier: Mapping[str, Any]) -> int:
        if value not in LOG_RETENTION_DAYS:
            higher = [d for d in LOG_RETENTION_DAYS if d >= value]
            suggestion = higher[0] if higher else LOG_RETENTION_DAYS[-1]
            raise ValueError(
                f"CloudWatch Logs does not accept {value} days; fix: use one of its values, "
                f"e.g. {suggestion}"
            )
        return value

    @classmethod
    def _check_tags(cls, value: dict[str, str], earlier: Mapping[str, Any]) -> dict[str, str]:
        for key in value:
            if key.lower().startswith("aws:") or not 1 <= len(key) <= 128:
                raise ValueError(
                    f"tag key '{key}' is not allowed; fix: use 1-128 characters, not "
                    "starting with 'aws:'"
                )
        return value

    @classmethod
    def _check_secondary(cls, value: RegionSettings, earlier: Mapping[str, Any]) -> RegionSettings:
        primary: RegionSettings | None = earlier.get("primary")
        if primary is None:
            return value
        if primary.region == value.region:
            raise ValueError(
                f"region {value.region} is the primary's too; fix: put the secondary in "
                "another region (e.g. us-east-2) so a regional outage spares it"
            )
        a = ipaddress.ip_network(primary.vpc_cidr)
        b = ipaddress.ip_network(value.vpc_cidr)
        if a.overlaps(b):
            raise ValueError(
                f"VPC {b} overlaps the primary's {a}; fix: give the regions disjoint ranges "
                "(e.g. 10.0.0.0/16 and 10.1.0.0/16) so they can be peered"
            )
        return value

    @classmethod
    def _check_failover(
        cls, value: FailoverSettings, earlier: Mapping[str, Any]
    ) -> FailoverSettings:
        taken = {
            r.region: name
            for name in ("primary", "secondary")
            if (r := earlier.get(name)) is not None
        }
        if value.observer_region in taken:
            raise ValueError(
                f"observer_region {value.observer_region} is the {taken[value.observer_region]}'s "
                "region; fix: put the observer in a third region (e.g. us-west-2) so it "
                "survives the outage it must report"
            )
        return value

    def region_of(self, role: Role) -> str:
        """The region a role's stack is deployed in."""
        if role is Role.OBSERVER:
            return self.failover.observer_region
        return self.region_settings(role).region

    def region_settings(self, role: Role) -> RegionSettings:
        """The region that hosts `role`; the global template lives in the primary region."""
        return self.secondary if role is Role.SECONDARY else self.primary


def _network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ValueError(
            f"'{value}' is not a valid IPv4 CIDR ({exc}); fix: write it as a.b.c.d/n with "
            "the host bits zero, e.g. 10.0.0.0/16"
        ) from None


def parse_environment(data: Any, source: str, name: str) -> Environment:
    """Validate already-parsed YAML; `source` names the file in errors."""
    if not isinstance(data, dict):
        raise ConfigError(
            source, "(top level)", "expected a mapping of settings; fix: see prod.yaml"
        )
    if "name" in data:
        raise ConfigError(source, "name", "the name comes from the file name; fix: remove the key")
    try:
        return build(Environment, {"name": name, **data})
    except SettingsError as exc:
        first, *more = exc.problems
        raise ConfigError(
            source, first.field, first.message, [f"{p.field}: {p.message}" for p in more]
        ) from None


def load_environment(path: Path) -> Environment:
    """Read and validate environments/<name>.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(
            str(path), where, f"invalid YAML: {exc}; fix: correct the syntax"
        ) from None
    return parse_environment(data, str(path), path.stem)


def environment_names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))
