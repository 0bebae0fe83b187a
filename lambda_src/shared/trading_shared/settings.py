"""Settings of each function, read from its environment variables.

Every missing or malformed variable is reported at once, by name, so a mis-wired
template fails its first invocation with one readable error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

# The certificate authorities of Amazon RDS, shipped in every zip (scripts/rds_ca_bundle.py
# says where the bytes come from and pins their SHA-256).
RDS_CA_BUNDLE = Path(__file__).resolve().parent / "certs" / "rds-ca-bundle.pem"


class SettingsError(RuntimeError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid environment: " + "; ".join(problems))


E = TypeVar("E", bound=StrEnum)


class TlsMode(StrEnum):
    VERIFY_FULL = "verify-full"  # production: encrypted, server certificate and host checked
    REQUIRE = "require"  # encrypted, server not verified: an impostor could read the login
    DISABLE = "disable"  # the local test server only


class DbAuth(StrEnum):
    SECRET = "secret"  # username/password from a Secrets Manager secret (the RDS-managed one)
    IAM = "iam"  # a token signed locally from the function's role: no secret, no cross-region call


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    name: str
    auth: DbAuth
    user: str | None  # the IAM database user
    secret_arn: str | None
    tls: TlsMode
    ca_bundle: str | None
    timeout_s: float


@dataclass(frozen=True)
class IntakeSettings:
    region: str
    queue_url: str
    sessions_table: str
    journal_table: str
    journal_ttl_days: int
    max_body_bytes: int


@dataclass(frozen=True)
class ProcessorSettings:
    region: str
    queue_url: str  # where trades deferred in a read-only region go back to
    defer_delay_s: int
    audit_bucket: str
    audit_prefix: str
    database: DatabaseSettings


@dataclass(frozen=True)
class ShipperSettings:
    region: str
    environment: str  # the metrics' Environment dimension, which the outbox alarm reads
    audit_bucket: str
    batch_size: int  # outbox rows put per round (in parallel) before their DELETE commits
    database: DatabaseSettings


@dataclass(frozen=True)
class ReconcilerSettings:
    region: str
    environment: str  # the metrics' Environment dimension, which the RPO alarm reads
    journal_table: str
    queue_url: str
    grace_s: float  # entries younger than this are still on their way
    pass_interval_s: float
    lookback_minutes: int
    database: DatabaseSettings


@dataclass(frozen=True)
class HealthSettings:
    region: str
    queue_url: str
    sessions_table: str
    journal_table: str
    timeout_s: float
    database: DatabaseSettings


@dataclass(frozen=True)
class MigrateSettings:
    region: str
    database: DatabaseSettings


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str:
        value = self.environ.get(name, default)
        if not value:
            self.problems.append(f"{name} is required")
            return ""
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            self.problems.append(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
            return default
        return value

    def choice(self, name: str, enum: type[E], default: E) -> E:
        raw = self.environ.get(name) or default.value
        try:
            return enum(raw)
        except ValueError:
            choices = ", ".join(m.value for m in enum)
            self.problems.append(f"{name} must be one of {choices}, got {raw!r}")
            return default

    def done(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


def _ca_bundle(r: _Reader, tls: TlsMode) -> str | None:
    """The CA file verify-full checks the server against: DB_CA_BUNDLE, else the RDS bundle
    shipped in the zip. Never the system store: RDS certificates chain to RDS's own roots."""
    if tls is not TlsMode.VERIFY_FULL:
        return None
    path = r.environ.get("DB_CA_BUNDLE") or str(RDS_CA_BUNDLE)
    if not Path(path).is_file():
        r.problems.append(f"DB_CA_BUNDLE {path} is not a file (DB_TLS=verify-full needs one)")
    return path


def _database(r: _Reader) -> DatabaseSettings:
    auth = r.choice("DB_AUTH", DbAuth, DbAuth.SECRET)
    tls = r.choice("DB_TLS", TlsMode, TlsMode.VERIFY_FULL)
    return DatabaseSettings(
        host=r.text("DB_HOST"),
        port=int(r.number("DB_PORT", 5432, 1, 65535)),
        name=r.text("DB_NAME", "trading"),
        auth=auth,
        user=r.text("DB_USER") if auth is DbAuth.IAM else None,
        secret_arn=r.text("DB_SECRET_ARN") if auth is DbAuth.SECRET else None,
        tls=tls,
        ca_bundle=_ca_bundle(r, tls),
        timeout_s=r.number("DB_TIMEOUT_SECONDS", 10.0, 0.1, 60),
    )


def intake_settings(environ: Mapping[str, str]) -> IntakeSettings:
    r = _Reader(environ)
    settings = IntakeSettings(
        region=r.text("AWS_REGION"),
        queue_url=r.text("TRADE_QUEUE_URL"),
        sessions_table=r.text("SESSIONS_TABLE_NAME"),
        journal_table=r.text("JOURNAL_TABLE_NAME"),
        journal_ttl_days=int(r.number("JOURNAL_TTL_DAYS", 7, 1, 365)),
        max_body_bytes=int(r.number("MAX_BODY_BYTES", 16 * 1024, 256, 1024 * 1024)),
    )
    r.done()
    return settings


def processor_settings(environ: Mapping[str, str]) -> ProcessorSettings:
    r = _Reader(environ)
    settings = ProcessorSettings(
        region=r.text("AWS_REGION"),
        queue_url=r.text("TRADE_QUEUE_URL"),
        defer_delay_s=int(r.number("DEFER_DELAY_SECONDS", 60, 0, 900)),
        audit_bucket=r.text("AUDIT_BUCKET"),
        audit_prefix=environ.get("AUDIT_PREFIX", "trades/"),
        database=_database(r),
    )
    r.done()
    return settings


def shipper_settings(environ: Mapping[str, str]) -> ShipperSettings:
    r = _Reader(environ)
    settings = ShipperSettings(
        region=r.text("AWS_REGION"),
        environment=r.text("ENVIRONMENT"),
        audit_bucket=r.text("AUDIT_BUCKET"),
        batch_size=int(r.number("SHIP_BATCH_SIZE", 50, 1, 1000)),
        database=_database(r),
    )
    r.done()
    return settings


def reconciler_settings(environ: Mapping[str, str]) -> ReconcilerSettings:
    r = _Reader(environ)
    settings = ReconcilerSettings(
        region=r.text("AWS_REGION"),
        environment=r.text("ENVIRONMENT"),
        journal_table=r.text("JOURNAL_TABLE_NAME"),
        queue_url=r.text("TRADE_QUEUE_URL"),
        grace_s=r.number("GRACE_SECONDS", 20, 1, 3600),
        pass_interval_s=r.number("PASS_INTERVAL_SECONDS", 15, 1, 60),
        lookback_minutes=int(r.number("LOOKBACK_MINUTES", 60, 1, 1440)),
        database=_database(r),
    )
    r.done()
    return settings


def health_settings(environ: Mapping[str, str]) -> HealthSettings:
    r = _Reader(environ)
    # Route 53 wants the response within 2 s of connecting, so each check gets less.
    timeout = r.number("HEALTH_TIMEOUT_SECONDS", 1.5, 0.1, 10)
    database = _database(r)
    settings = HealthSettings(
        region=r.text("AWS_REGION"),
        queue_url=r.text("TRADE_QUEUE_URL"),
        sessions_table=r.text("SESSIONS_TABLE_NAME"),
        journal_table=r.text("JOURNAL_TABLE_NAME"),
        timeout_s=timeout,
        database=replace(database, timeout_s=min(database.timeout_s, timeout)),
    )
    r.done()
    return settings


def migrate_settings(environ: Mapping[str, str]) -> MigrateSettings:
    r = _Reader(environ)
    settings = MigrateSettings(region=r.text("AWS_REGION"), database=_database(r))
    r.done()
    return settings
