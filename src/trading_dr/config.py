"""Typed, validated settings of one environment (environments/<name>.yaml).

No troposphere here: config is plain data that every builder reads through the stack
context. Every validation message says what is wrong *and* how to fix it, because the
reader is an engineer looking at a failed CI job, not at this file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from trading_dr.config_sections import (
    DatabaseSettings,
    DeploymentSettings,
    FailoverSettings,
    JournalSettings,
    RegionSettings,
    StorageSettings,
)
from trading_dr.errors import ConfigError
from trading_dr.validation import SettingsError, build

SUFFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,10}[a-z0-9]$|^[a-z]$")
# RFC 1035 labels, at least two of them, lower case so the zone name is canonical.
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HOSTED_ZONE_RE = re.compile(r"^Z[A-Z0-9]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$", re.IGNORECASE)
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
