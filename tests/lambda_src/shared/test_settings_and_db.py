"""Settings from the environment, and the database helpers that need no server."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pg8000.exceptions import DatabaseError, InterfaceError
from trading_shared.db import (
    connector,
    is_connection_error,
    secret_region,
    ssl_context,
    transaction,
)
from trading_shared.settings import (
    RDS_CA_BUNDLE,
    SettingsError,
    TlsMode,
    health_settings,
    processor_settings,
)

from tests.conftest import Database

DB_ENV = {
    "AWS_REGION": "us-east-2",
    "DB_HOST": "trading.global-abc.global.rds.amazonaws.com",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-x",
    "AUDIT_BUCKET": "audit",
    "TRADE_QUEUE_URL": "https://sqs.us-east-2.amazonaws.com/123456789012/trades",
}


def test_processor_settings_have_production_defaults() -> None:
    # GIVEN only the required variables
    # WHEN the settings are read
    settings = processor_settings(DB_ENV)

    # THEN TLS is verified, the port and database name are the platform's
    assert settings.database.tls is TlsMode.VERIFY_FULL
    assert (settings.database.port, settings.database.name) == (5432, "trading")
    assert settings.region == "us-east-2"


def test_every_bad_variable_is_named_at_once() -> None:
    # GIVEN an environment missing the host and with a bad TLS mode and port
    env = {**DB_ENV, "DB_HOST": "", "DB_TLS": "maybe", "DB_PORT": "99999"}

    # WHEN the settings are read, THEN one error names all three
    with pytest.raises(SettingsError) as caught:
        processor_settings(env)
    assert len(caught.value.problems) == 3
    assert {p.split(" ")[0] for p in caught.value.problems} == {"DB_HOST", "DB_TLS", "DB_PORT"}


def test_health_database_timeout_never_exceeds_the_health_deadline() -> None:
    # GIVEN a 10 s database timeout and a 1.5 s health deadline
    env = {**DB_ENV, "TRADE_QUEUE_URL": "q", "SESSIONS_TABLE_NAME": "t", "JOURNAL_TABLE_NAME": "j"}

    # WHEN the health settings are read, THEN the database gets the shorter one
    assert health_settings(env).database.timeout_s == 1.5


@pytest.mark.parametrize(
    ("exc", "reconnect"),
    [
        (InterfaceError("network error"), True),
        (ConnectionResetError(), True),
        (DatabaseError({"C": "57P01", "M": "terminating connection"}), True),
        (DatabaseError({"C": "08006", "M": "connection failure"}), True),
        (DatabaseError({"C": "25006", "M": "read-only transaction"}), True),
        (DatabaseError({"C": "23505", "M": "duplicate key"}), False),
        (DatabaseError({"C": "42P01", "M": "no such table"}), False),
        (ValueError("bug"), False),
    ],
)
def test_only_connection_level_errors_call_for_a_new_connection(
    exc: BaseException, reconnect: bool
) -> None:
    assert is_connection_error(exc) is reconnect


def test_secret_region_comes_from_its_arn() -> None:
    assert secret_region(DB_ENV["DB_SECRET_ARN"]) == "us-east-1"
    assert secret_region("rds!cluster-x") is None


def test_tls_modes_build_the_expected_contexts() -> None:
    # GIVEN the three modes, WHEN their contexts are built, THEN verify-full checks the
    # certificate and host, require only encrypts, disable is plain TCP
    base = processor_settings(DB_ENV).database
    full = ssl_context(base)
    required = ssl_context(processor_settings({**DB_ENV, "DB_TLS": "require"}).database)
    assert full is not None
    assert required is not None
    assert full.verify_mode is ssl.CERT_REQUIRED
    assert full.check_hostname
    assert required.verify_mode is ssl.CERT_NONE
    assert full.minimum_version is ssl.TLSVersion.TLSv1_2
    assert ssl_context(processor_settings({**DB_ENV, "DB_TLS": "disable"}).database) is None


def test_verify_full_defaults_to_the_shipped_rds_bundle() -> None:
    # GIVEN the production environment (no DB_CA_BUNDLE)
    # WHEN the settings are read, THEN verify-full checks against the zip's RDS bundle
    database = processor_settings(DB_ENV).database
    assert database.tls is TlsMode.VERIFY_FULL
    assert database.ca_bundle == str(RDS_CA_BUNDLE)


def test_verify_full_without_a_readable_bundle_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"DB_CA_BUNDLE .* is not a file"):
        processor_settings({**DB_ENV, "DB_CA_BUNDLE": str(tmp_path / "missing.pem")})


def test_iam_auth_signs_a_token_for_the_app_user_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN IAM authentication configured (credentials only; no AWS endpoint is reachable)
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    env = {**DB_ENV, "DB_AUTH": "iam", "DB_USER": "trading_app", "DB_SECRET_ARN": ""}
    settings = processor_settings(env).database

    # WHEN credentials are needed for a connection
    credentials = connector(settings, "us-east-2").credentials()

    # THEN they are the app user and a token for this host, port, user and region
    assert credentials.username == "trading_app"
    assert credentials.password.startswith(
        "trading.global-abc.global.rds.amazonaws.com:5432/?Action=connect&DBUser=trading_app"
    )
    assert "us-east-2%2Frds-db%2Faws4_request" in credentials.password


def test_iam_auth_needs_the_user_and_secret_auth_the_secret() -> None:
    # GIVEN each mode without the variable it needs
    # WHEN the settings are read, THEN the missing one is named
    with pytest.raises(SettingsError, match="DB_USER is required"):
        processor_settings({**DB_ENV, "DB_AUTH": "iam"})
    with pytest.raises(SettingsError, match="DB_SECRET_ARN is required"):
        processor_settings({**DB_ENV, "DB_SECRET_ARN": ""})


def test_transaction_commits_its_block_or_nothing(database: Database) -> None:
    # GIVEN a table
    conn = database.server.connect(database.name)
    conn.run("CREATE TABLE t (i int PRIMARY KEY)")

    # WHEN one block completes and another fails half-way
    with transaction(conn):
        conn.run("INSERT INTO t VALUES (1)")

    def add_two_then_a_duplicate() -> None:
        with transaction(conn):
            conn.run("INSERT INTO t VALUES (2)")
            conn.run("INSERT INTO t VALUES (1)")

    with pytest.raises(DatabaseError, match="duplicate key"):
        add_two_then_a_duplicate()

    # THEN the first block's row is there and nothing of the second
    assert conn.run("SELECT i FROM t") == [[1]]
    conn.close()


def test_transaction_on_a_broken_connection_raises_the_blocks_own_error(
    database: Database,
) -> None:
    # GIVEN a connection that breaks inside the block (so ROLLBACK cannot be sent either)
    conn = database.server.connect(database.name)

    # WHEN the block fails, THEN its own error surfaces, not the failed ROLLBACK's
    def break_the_connection() -> None:
        with transaction(conn):
            conn.close()
            raise RuntimeError("lost mid-block")

    with pytest.raises(RuntimeError, match="lost mid-block"):
        break_the_connection()
