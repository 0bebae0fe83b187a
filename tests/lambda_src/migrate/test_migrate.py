"""Schema migrations: ordered, recorded, idempotent, serialised, and tamper-evident."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import migrate_handler
import migrate_logic
import pg8000.native
import pytest

from tests.conftest import Database
from tests.lambda_src.helpers import context
from tests.support.postgres import PostgresServer


@pytest.fixture
def empty_db(postgres: PostgresServer) -> Iterator[str]:
    name = "migrate_test"
    postgres.drop_database(name)
    postgres.create_database(name)
    yield name
    postgres.drop_database(name)


def tables(server: PostgresServer, db: str) -> set[str]:
    conn = server.connect(db)
    try:
        rows = conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        conn.close()
    return {r[0] for r in rows}


SHIPPED = ["0001_trades", "0002_app_user", "0003_audit_outbox", "0004_one_trade_definition"]


@pytest.fixture
def configured(
    aws: None, postgres: PostgresServer, empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migrate function's environment, pointing at the empty database."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!cluster-migrate",
        SecretString=json.dumps({"username": postgres.user, "password": postgres.password}),
    )
    for name, value in {
        "DB_HOST": postgres.host,
        "DB_PORT": str(postgres.port),
        "DB_NAME": empty_db,
        "DB_SECRET_ARN": secret["ARN"],
        "DB_TLS": "disable",
    }.items():
        monkeypatch.setenv(name, value)


def test_handler_applies_the_schema_once_and_is_idempotent(
    configured: None, postgres: PostgresServer, empty_db: str
) -> None:
    # GIVEN an empty database and the migrate function configured for it
    # WHEN the deployment invokes it twice (a re-run rollout; the old empty event)
    first = migrate_handler.handler({}, context())
    second = migrate_handler.handler({"action": "apply"}, context())

    # THEN the first applies every file, the second none, and both tables exist
    assert first == {"status": "ok", "applied": SHIPPED, "already_applied": []}
    assert second == {"status": "ok", "applied": [], "already_applied": SHIPPED}
    assert tables(postgres, empty_db) == {"trades", "schema_migrations", "audit_outbox"}


def test_status_lists_pending_migrations_without_creating_anything(
    configured: None, postgres: PostgresServer, empty_db: str
) -> None:
    # GIVEN an empty database (no schema_migrations table yet)
    # WHEN the deployer asks for the status
    result = migrate_handler.handler({"action": "status"}, context())

    # THEN every shipped file is pending and the database is still empty
    assert result == {"status": "ok", "pending": SHIPPED, "applied": []}
    assert tables(postgres, empty_db) == set()


def test_status_after_apply_lists_nothing_pending(
    configured: None, postgres: PostgresServer, empty_db: str
) -> None:
    # GIVEN the schema applied
    migrate_handler.handler({"action": "apply"}, context())

    # WHEN the deployer asks for the status
    result = migrate_handler.handler({"action": "status"}, context())

    # THEN nothing is pending
    assert result == {"status": "ok", "pending": [], "applied": SHIPPED}


def test_status_names_files_added_since_the_last_apply(
    postgres: PostgresServer, empty_db: str, tmp_path: Path
) -> None:
    # GIVEN one applied migration and a second added afterwards
    conn = postgres.connect(empty_db)
    migrate_logic.apply(conn, write(tmp_path, {"0001_create.sql": "CREATE TABLE t (id int);"}))
    both = write(tmp_path, {"0002_note.sql": "ALTER TABLE t ADD COLUMN note text;"})

    # WHEN the status is read, THEN only the new one is pending, and nothing changed
    assert migrate_logic.status(conn, both) == {
        "pending": ["0002_note"],
        "applied": ["0001_create"],
    }
    assert conn.run(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 't'"
    ) == [["id"]]
    conn.close()


@pytest.mark.parametrize("event", ["status", {"action": "drop"}, []])
def test_unknown_event_is_refused_before_connecting(configured: None, event: Any) -> None:
    # GIVEN an event that is neither status nor apply (nor empty)
    # WHEN the function is invoked, THEN it fails naming the accepted events
    with pytest.raises(
        migrate_logic.MigrationError, match=re.escape('"action": "status" | "apply"')
    ):
        migrate_handler.handler(event, context())


def write(directory: Path, files: dict[str, str]) -> list[migrate_logic.Migration]:
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return migrate_logic.discover(directory)


def test_files_apply_in_version_order_each_in_its_own_transaction(
    postgres: PostgresServer, empty_db: str, tmp_path: Path
) -> None:
    # GIVEN two good migrations and a third that fails half-way
    migrations = write(
        tmp_path,
        {
            "0002_add_note.sql": "ALTER TABLE t ADD COLUMN note text;",
            "0001_create.sql": "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);",
            "0003_broken.sql": "CREATE TABLE u (id int); SELECT no_such_function();",
        },
    )
    conn = postgres.connect(empty_db)

    # WHEN they are applied
    with pytest.raises(Exception, match="no_such_function"):
        migrate_logic.apply(conn, migrations)

    # THEN the first two are applied and recorded in order, the broken one left no trace
    assert conn.run("SELECT version FROM schema_migrations ORDER BY applied_at") == [
        ["0001"],
        ["0002"],
    ]
    assert tables(postgres, empty_db) == {"t", "schema_migrations"}
    conn.close()


def test_a_commit_in_a_file_is_refused_before_anything_runs(
    postgres: PostgresServer, empty_db: str, tmp_path: Path
) -> None:
    # GIVEN a file that commits half-way and then fails (issue 12, defect 8: its table
    # stayed without a ledger row, and the re-run failed with "relation already exists")
    migrations = write(
        tmp_path, {"0001_half.sql": "CREATE TABLE t (id int);\nCOMMIT;\nSELECT no_such_function();"}
    )
    conn = postgres.connect(empty_db)

    # WHEN it is applied, or its status read, THEN both refuse naming the statement and the fix
    for run in (migrate_logic.apply, migrate_logic.status):
        with pytest.raises(
            migrate_logic.MigrationError,
            match=r"0001_half controls transactions \(COMMIT\).*fix: remove",
        ):
            run(conn, migrations)

    # AND nothing of it was applied
    assert "t" not in tables(postgres, empty_db)
    assert conn.run("SELECT count(*) FROM schema_migrations") == [[0]]
    conn.close()


TRANSACTION_CONTROL = {
    "BEGIN": "BEGIN;",
    "begin work": "begin work;",
    "START TRANSACTION": "START TRANSACTION ISOLATION LEVEL SERIALIZABLE;",
    "COMMIT": "COMMIT;",
    "END": "END;",
    "ROLLBACK": "ROLLBACK;",
    "ABORT": "abort;",
    "SAVEPOINT": "SAVEPOINT s;",
    "RELEASE": "RELEASE SAVEPOINT s;",
    "ROLLBACK TO": "ROLLBACK TO SAVEPOINT s;",
    "PREPARE TRANSACTION": "PREPARE TRANSACTION 'x';",
    "COMMIT PREPARED": "COMMIT PREPARED 'x';",
    "SET TRANSACTION": "SET TRANSACTION READ WRITE;",
    "after a comment": "/* a /* nested */ comment */ COMMIT;",
    "after a line comment": "-- comment\nCOMMIT",
    "last, without a semicolon": "SELECT 1; commit",
}


@pytest.mark.parametrize("sql", TRANSACTION_CONTROL.values(), ids=TRANSACTION_CONTROL.keys())
def test_transaction_control_is_refused(tmp_path: Path, sql: str) -> None:
    # GIVEN a file with a transaction control statement
    [migration] = write(tmp_path, {"0001_x.sql": f"CREATE TABLE t ();\n{sql}\n"})

    # WHEN it is checked, THEN it is refused
    with pytest.raises(migrate_logic.MigrationError, match="controls transactions"):
        migrate_logic.check_statements(migration)


NOT_TRANSACTION_CONTROL = {
    "words in a string": "INSERT INTO t VALUES ('COMMIT; BEGIN');",
    "quote-escaped string": "SELECT 'it''s; COMMIT';",
    "escape string": "SELECT E'it\\'s; COMMIT';",
    "a quoted identifier": 'CREATE TABLE "commit;begin" ();',
    "PL/pgSQL block": "DO $$ BEGIN PERFORM 1; END $$;",
    "tagged body": "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN RETURN 1; END $f$;",
    "comments": "-- COMMIT;\n/* ROLLBACK; */ SELECT 1;",
    "columns named like keywords": "CREATE TABLE t (begin_at timestamptz, ends int);",
}


@pytest.mark.parametrize(
    "sql", NOT_TRANSACTION_CONTROL.values(), ids=NOT_TRANSACTION_CONTROL.keys()
)
def test_keywords_inside_quotes_bodies_and_comments_are_allowed(tmp_path: Path, sql: str) -> None:
    # GIVEN a file whose transaction keywords are only in text, bodies or comments
    [migration] = write(tmp_path, {"0001_x.sql": sql})

    # WHEN it is checked, THEN it passes
    migrate_logic.check_statements(migration)


def test_shipped_migrations_control_no_transactions() -> None:
    for migration in migrate_logic.discover():
        migrate_logic.check_statements(migration)


def test_a_file_numbered_below_an_applied_one_is_refused(
    postgres: PostgresServer, empty_db: str, tmp_path: Path
) -> None:
    # GIVEN 0001 and 0003 applied, then a 0002 added (issue 12, defect 8: applied silently,
    # out of order)
    conn = postgres.connect(empty_db)
    migrate_logic.apply(conn, write(tmp_path, {"0001_a.sql": "CREATE TABLE a ();",
                                               "0003_c.sql": "CREATE TABLE c ();"}))  # fmt: skip
    later = write(
        tmp_path, {"0002_b.sql": "CREATE TABLE b ();", "0004_d.sql": "CREATE TABLE d ();"}
    )

    # WHEN migrations run or their status is read, THEN both refuse naming the file
    for run in (migrate_logic.apply, migrate_logic.status):
        with pytest.raises(
            migrate_logic.MigrationError, match=r"0002_b numbered below 0003.*fix: renumber"
        ):
            run(conn, later)

    # AND nothing was applied, not even the well-numbered 0004
    assert tables(postgres, empty_db) == {"a", "c", "schema_migrations"}
    conn.close()


def test_a_file_that_escapes_the_check_still_cannot_half_apply(
    postgres: PostgresServer, empty_db: str
) -> None:
    # GIVEN a migration that commits in a way the statement check does not see (PL/pgSQL
    # transaction control inside a DO body)
    migration = migrate_logic.Migration(
        "0001", "sneaky", "CREATE TABLE t (); DO $$ BEGIN COMMIT; END $$;"
    )
    conn = postgres.connect(empty_db)

    # WHEN it is applied, THEN it fails and leaves nothing behind
    with pytest.raises(Exception, match="transaction"):
        migrate_logic.apply(conn, [migration])
    assert tables(postgres, empty_db) == {"schema_migrations"}
    conn.close()


def test_edited_migration_is_refused(
    postgres: PostgresServer, empty_db: str, tmp_path: Path
) -> None:
    # GIVEN an applied migration whose file was edited afterwards
    conn = postgres.connect(empty_db)
    migrate_logic.apply(conn, write(tmp_path, {"0001_create.sql": "CREATE TABLE t (id int);"}))
    edited = write(tmp_path, {"0001_create.sql": "CREATE TABLE t (id bigint);"})

    # WHEN migrations run again or their status is read, THEN they stop and say why
    with pytest.raises(migrate_logic.MigrationError, match="edited after it was applied"):
        migrate_logic.apply(conn, edited)
    with pytest.raises(migrate_logic.MigrationError, match="0001_create was edited"):
        migrate_logic.status(conn, edited)
    conn.close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_create.sql": "SELECT 1;"}, "NNNN_description.sql"),
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "used twice"),
    ],
)
def test_badly_named_migrations_are_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    # GIVEN migration files with a bad or repeated version
    # WHEN they are discovered, THEN discovery fails naming the problem
    with pytest.raises(migrate_logic.MigrationError, match=message):
        write(tmp_path, files)


def test_concurrent_runs_are_serialised_by_the_advisory_lock(
    postgres: PostgresServer, empty_db: str, tmp_path: Path
) -> None:
    # GIVEN a slow migration and two runners started together (e.g. a retried invoke)
    migrations = write(tmp_path, {"0001_slow.sql": "SELECT pg_sleep(0.5); CREATE TABLE t ();"})
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        conn = postgres.connect(empty_db)
        try:
            reports.append(migrate_logic.apply(conn, migrations).as_dict())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # THEN one applied it and the other found it applied, with no error
    assert errors == []
    assert sorted(r["applied"] == ["0001_slow"] for r in reports) == [False, True]


def test_shipped_schema_enforces_what_intake_validates(
    postgres: PostgresServer, empty_db: str
) -> None:
    # GIVEN the shipped migrations applied
    conn = postgres.connect(empty_db)
    migrate_logic.apply(conn, migrate_logic.discover())
    insert = (
        "INSERT INTO trades (trade_id, account_id, symbol, side, order_type, quantity,"
        " limit_price, client_timestamp, processed_region) VALUES (gen_random_uuid(), 'a',"
        " :symbol, 'BUY', :order_type, :quantity, :price, now(), 'us-east-1')"
    )

    # WHEN rows breaking the trade rules are inserted directly, THEN each is refused
    for values in (
        {"symbol": "aapl", "order_type": "MARKET", "quantity": 1, "price": None},
        {"symbol": "AAPL", "order_type": "LIMIT", "quantity": 1, "price": None},
        {"symbol": "AAPL", "order_type": "MARKET", "quantity": 1, "price": 5},
        {"symbol": "AAPL", "order_type": "MARKET", "quantity": 0, "price": None},
    ):
        with pytest.raises(Exception, match="violates check constraint"):
            conn.run(insert, **values)
    conn.close()


def test_app_user_may_read_and_add_trades_but_not_change_them(database: Database) -> None:
    # GIVEN the migrated database and the functions' login
    conn = database.server.connect(database.name)
    conn.run(f"ALTER ROLE {database.app_user} PASSWORD 'pw-app'")
    conn.close()
    app = pg8000.native.Connection(
        user=database.app_user,
        password="pw-app",
        host=database.server.host,
        port=database.server.port,
        database=database.name,
    )
    insert = (
        "INSERT INTO trades (trade_id, account_id, symbol, side, order_type, quantity,"
        " client_timestamp, processed_region) VALUES (gen_random_uuid(), 'a', 'AAPL', 'BUY',"
        " 'MARKET', 1, now(), 'us-east-1') RETURNING trade_id"
    )

    # WHEN it inserts and reads, THEN that works
    assert len(app.run(insert)) == 1
    assert app.run("SELECT count(*) FROM trades") == [[1]]

    # AND altering, deleting or creating tables is refused
    for sql in ("UPDATE trades SET quantity = 2", "DELETE FROM trades", "CREATE TABLE x (i int)"):
        with pytest.raises(pg8000.exceptions.DatabaseError, match="permission denied"):
            app.run(sql)
    app.close()


def _login(database: Database, role: str) -> pg8000.native.Connection:
    conn = database.server.connect(database.name)
    conn.run(f"ALTER ROLE {role} PASSWORD 'pw-{role}'")
    conn.close()
    return pg8000.native.Connection(
        user=role,
        password=f"pw-{role}",
        host=database.server.host,
        port=database.server.port,
        database=database.name,
    )


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        # The processor adds audit objects but can neither read nor remove them.
        (
            "trading_app",
            ["INSERT INTO audit_outbox (object_key, body) VALUES ('k', 'x') ON CONFLICT DO NOTHING"],
            ["SELECT * FROM audit_outbox", "DELETE FROM audit_outbox",
             "UPDATE audit_outbox SET body = 'y'"],
        ),
        # The shipper reads and removes them and touches no trade.
        (
            "trading_audit",
            ["SELECT object_key, body, created_at FROM audit_outbox", "DELETE FROM audit_outbox"],
            ["INSERT INTO audit_outbox (object_key, body) VALUES ('k', 'x')",
             "UPDATE audit_outbox SET body = 'y'", "SELECT * FROM trades",
             "DELETE FROM trades", "CREATE TABLE x (i int)"],
        ),
    ],
)  # fmt: skip
def test_audit_outbox_grants_per_login(
    database: Database, role: str, allowed: list[str], refused: list[str]
) -> None:
    # GIVEN the migrated database and one function's login
    conn = _login(database, role)

    # WHEN it runs what its function needs, THEN that works; anything else is refused
    for sql in allowed:
        conn.run(sql)
    for sql in refused:
        with pytest.raises(pg8000.exceptions.DatabaseError, match="permission denied"):
            conn.run(sql)
    conn.close()
