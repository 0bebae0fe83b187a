"""Suite-wide fixtures: the Lambda sources on sys.path, a real PostgreSQL server, moto.

Each function directory of lambda_src/ is the root of its own zip, so its modules are
imported by their bare names (`intake_handler`, `trading_shared.trade`), as in Lambda.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SRC = ROOT / "lambda_src"
for _path in (
    "shared",
    "intake",
    "processor",
    "health",
    "migrate",
    "shipper",
    "reconciler",
    "observer",
):
    if str(LAMBDA_SRC / _path) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC / _path))

from tests.support.postgres import PostgresServer, running_postgres  # noqa: E402

_database_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One server for the session; tests that stop it must start it again."""
    with running_postgres() as server:
        yield server


APP_USER = "trading_app"  # created by migration 0002
APP_PASSWORD = "app-password-for-tests"
AUDIT_USER = "trading_audit"  # the shipper's login, created by migration 0003
AUDIT_PASSWORD = "audit-password-for-tests"


@dataclass(frozen=True)
class Database:
    server: PostgresServer
    name: str
    # On Aurora the app user logs in with IAM tokens; here it gets a password, so the tests
    # run with exactly the grants the functions have in production.
    app_user: str = APP_USER
    app_password: str = APP_PASSWORD
    audit_user: str = AUDIT_USER
    audit_password: str = AUDIT_PASSWORD

    def read_only(self, on: bool) -> None:
        """Make the database answer every new session as a read-only member of an Aurora
        global cluster does (SQLSTATE 25006 on writes), or as the writer again."""
        conn = self.server.connect()  # not this database: it may be read-only already
        try:
            conn.run(f"ALTER DATABASE {self.name} SET default_transaction_read_only = "
                     + ("on" if on else "off"))  # fmt: skip
        finally:
            conn.close()


@pytest.fixture
def database(postgres: PostgresServer) -> Iterator[Database]:
    """A fresh database per test with the reviewed migrations applied."""
    import migrate_logic

    name = f"trading_test_{next(_database_names)}"
    postgres.create_database(name)
    conn = postgres.connect(name)
    try:
        migrate_logic.apply(conn, migrate_logic.discover())
        conn.run(f"ALTER ROLE {APP_USER} PASSWORD '{APP_PASSWORD}'")
        conn.run(f"ALTER ROLE {AUDIT_USER} PASSWORD '{AUDIT_PASSWORD}'")
    finally:
        conn.close()
    yield Database(postgres, name)
    postgres.drop_database(name)
