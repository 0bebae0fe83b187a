"""Environment validation: every bad input names the file, the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from trading_dr.config import Environment, Role, load_environment, parse_environment
from trading_dr.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PROD = yaml.safe_load((ROOT / "environments" / "prod.yaml").read_text())


def _with(path: str, value: Any) -> dict[str, Any]:
    """A copy of prod.yaml with `path` (dotted, list indices as digits) set; DELETE removes."""
    data: dict[str, Any] = copy.deepcopy(PROD)
    *parents, leaf = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is DELETE:
        del node[leaf]
    elif leaf.isdigit():
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return data


DELETE = object()
OVERLAPPING_SECONDARY = {
    "region": "us-east-2",
    "vpc_cidr": "10.0.0.0/16",
    "public_subnets": ["10.0.20.0/24", "10.0.21.0/24"],
    "private_subnets": ["10.0.30.0/24", "10.0.31.0/24"],
}

# (case id, changed key, new value, field named in the error, words the message must hold)
# fmt: off
BAD_INPUTS = [
    ("unknown-top-level-key", "suffx", "prod", "suffx", "did you mean 'suffix'"),
    ("unknown-nested-key", "database.instance_klass", "x", "database.instance_klass", "unknown key"),
    ("missing-required", "domain", DELETE, "domain", "required key is missing"),
    ("suffix-upper-case", "suffix", "Prod", "suffix", "cannot be used in S3 bucket names"),
    ("suffix-underscore", "suffix", "prod_eu", "suffix", "lower-case letters, digits or hyphens"),
    ("suffix-too-long", "suffix", "production-blue", "suffix", "1-12"),
    ("suffix-trailing-hyphen", "suffix", "prod-", "suffix", "not ending in a hyphen"),
    ("same-region-twice", "secondary.region", "us-east-1", "secondary", "primary's too"),
    ("unknown-region", "secondary.region", "us-east-9", "secondary.region", "unknown AWS region"),
    ("region-typo-suggests", "primary.region", "us-est-1", "primary.region", "did you mean"),
    ("malformed-cidr", "primary.vpc_cidr", "10.0.0/16", "primary.vpc_cidr", "not a valid IPv4 CIDR"),
    ("cidr-host-bits", "primary.vpc_cidr", "10.0.0.1/16", "primary.vpc_cidr", "host bits zero"),
    ("vpc-too-large", "primary.vpc_cidr", "10.0.0.0/8", "primary.vpc_cidr", "between /16 and /24"),
    ("vpc-public-range", "primary.vpc_cidr", "8.8.0.0/16", "primary.vpc_cidr", "not private"),
    ("vpcs-overlap", "secondary", OVERLAPPING_SECONDARY, "secondary", "overlaps the primary"),
    ("subnet-outside-vpc", "primary.private_subnets.0", "10.9.0.0/24", "primary.private_subnets",
     "outside the VPC"),
    ("subnets-overlap", "primary.private_subnets.1", "10.0.0.0/24", "primary.private_subnets",
     "overlap"),
    ("subnet-too-small", "primary.public_subnets.0", "10.0.0.0/29", "primary.public_subnets",
     "between /16 and /28"),
    ("one-subnet-only", "primary.public_subnets", ["10.0.0.0/24"], "primary.public_subnets",
     "one per availability zone"),
    ("three-subnets", "primary.public_subnets", ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"],
     "primary.public_subnets", "too many entries"),
    ("bad-domain", "domain", "https://trading.example.com", "domain", "not a valid domain name"),
    ("domain-upper-case", "domain", "Trading.Example.com", "domain", "lower-case DNS name"),
    ("account-11-digits", "accounts", ["11111111111"], "accounts", "is not 12 digits"),
    ("account-as-number", "accounts", [111111111111], "accounts.0", "quote the value"),
    ("account-twice", "accounts", ["111111111111"] * 2, "accounts", "listed twice"),
    ("no-account", "accounts", [], "accounts", "at least one"),
    ("interval-not-10-or-30", "failover.health_check_interval_s", 15, "failover", "10 or 30"),
    ("threshold-zero", "failover.health_check_failure_threshold", 0, "failover", "use 1 or more"),
    ("threshold-too-high", "failover.health_check_failure_threshold", 11, "failover",
     "use 10 or less"),
    ("threshold-not-a-number", "failover.health_check_failure_threshold", "three", "failover",
     "whole number"),
    ("lag-alarm-above-rpo", "failover.replication_lag_alarm_s", 90,
     "failover.replication_lag_alarm_s", "not below rpo_target_s"),
    ("observer-unknown-region", "failover.observer_region", "us-west-9", "failover",
     "unknown AWS region"),
    ("observer-in-the-primary", "failover.observer_region", "us-east-1", "failover",
     "put the observer in a third region"),
    ("observer-in-the-secondary", "failover.observer_region", "us-east-2", "failover",
     "put the observer in a third region"),
    ("backups-too-short", "database.backup_retention_days", 3, "database", "at least 7"),
    ("audit-mode-unknown", "storage.audit_after_retention", "shred", "storage", "'expire'"),
    ("burstable-db-class", "database.instance_class", "db.t4g.medium", "database", "global"),
    ("engine-version-bare-major", "database.engine_version", "16", "database", "is deprecated"),
    ("engine-version-deprecated", "database.engine_version", "16.6", "database", "is deprecated"),
    ("engine-version-unknown", "database.engine_version", "16.99", "database", "not an Aurora PostgreSQL version"),
    ("engine-version-not-global", "database.engine_version", "16.6-limitless", "database", "global databases"),
    ("engine-version-lists-valid", "database.engine_version", "9.9", "database", "16.11, "),
    ("reserved-db-user", "database.master_username", "postgres", "database", "identifier"),
    ("archive-before-retention", "storage", {"audit_after_retention": "glacier", "audit_retention_days": 90, "audit_archive_days": 60},
     "storage.audit_archive_days", "longer than the retention period"),
    ("bad-object-lock-mode", "storage.object_lock_mode", "STRICT", "storage", "GOVERNANCE"),
    ("log-retention", "log_retention_days", 45, "log_retention_days", "e.g. 60"),
    ("bad-zone-id", "hosted_zone_id", "zone-1", "hosted_zone_id", "hosted zone id"),
    ("bad-email", "alarm_email", "oncall", "alarm_email", "not an e-mail address"),
    ("aws-tag-key", "tags.aws:owner", "me", "tags", "not starting with 'aws:'"),
    ("name-key-given", "name", "prod", "name", "comes from the file name"),
    ("concurrency-above-tolerance", "deployment", {"failure_tolerance_count": 1, "max_concurrent_count": 3},
     "deployment.max_concurrent_count", "more than failure_tolerance_count + 1"),
]
# fmt: on


@pytest.mark.parametrize(
    ("key", "value", "field", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_bad_input_names_file_field_and_fix(key: str, value: Any, field: str, words: str) -> None:
    # GIVEN prod.yaml with one bad value
    data = _with(key, value)
    # WHEN it is validated
    with pytest.raises(ConfigError) as caught:
        parse_environment(data, "environments/broken.yaml", "broken")
    # THEN the error names the file, the field and the fix
    error = caught.value
    assert error.source == "environments/broken.yaml"
    assert error.field.startswith(field), error.render()
    assert words.lower() in error.message.lower(), error.render()
    assert "fix" in error.message, error.render()
    assert error.exit_code == 2


def test_table_has_at_least_twenty_cases() -> None:
    assert len(BAD_INPUTS) >= 20


def test_every_problem_is_reported_not_only_the_first() -> None:
    data = _with("suffix", "BAD")
    data["domain"] = "not a domain"
    with pytest.raises(ConfigError) as caught:
        parse_environment(data, "f.yaml", "f")
    rendered = caught.value.render()
    assert "suffix" in rendered
    assert "domain" in rendered


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("suffix: prod\nprimary: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_environment(path)
    assert caught.value.source == str(path)
    assert caught.value.field.startswith("line ")
    assert "invalid YAML" in caught.value.message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_environment(path)


@pytest.mark.parametrize("name", ["prod", "dev"])
def test_shipped_environments_are_valid(name: str) -> None:
    env = load_environment(ROOT / "environments" / f"{name}.yaml")
    assert isinstance(env, Environment)
    assert env.name == name
    assert env.primary.region != env.secondary.region


def test_prod_is_the_reference_from_the_design() -> None:
    env = load_environment(ROOT / "environments" / "prod.yaml")
    assert env.suffix == "prod"
    assert (env.primary.region, env.secondary.region) == ("us-east-1", "us-east-2")
    assert (env.primary.vpc_cidr, env.secondary.vpc_cidr) == ("10.0.0.0/16", "10.1.0.0/16")
    assert env.failover.health_check_interval_s == 10
    assert env.failover.health_check_failure_threshold == 3
    assert env.storage.audit_retention_days == 90
    assert env.region_settings(Role.GLOBAL) is env.primary
    assert env.region_settings(Role.SECONDARY) is env.secondary
