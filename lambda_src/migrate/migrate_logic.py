"""Apply the reviewed SQL files in migrations/ in order, once each, under an advisory lock.

Rules for migration files, each enforced here with an error naming the file and the fix:
named NNNN_description.sql; never edited once applied (the checksum is recorded and
compared); numbered above every applied one (a file added below would apply out of order);
and without transaction control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...): each
file runs in one transaction together with its schema_migrations row, so it applies wholly
or not at all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from sql_statements import SqlSyntaxError, transaction_control
from trading_shared.db import Connection, transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed 64-bit key: concurrent rollouts (or a retried invoke) serialise on it.
ADVISORY_LOCK_KEY = 7_142_500_193_114_800_001

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text        PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


EDITED = "was edited after it was applied; add a new migration instead"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass
class Report:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"applied": self.applied, "already_applied": self.already_applied}


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: dict[str, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: name migration files NNNN_description.sql")
        version, name = match.groups()
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        migrations[version] = Migration(version, name, path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


def check_statements(migration: Migration) -> None:
    """Refuse transaction control: the migrator's transaction around the file is what makes
    it all or nothing (a COMMIT in the file would keep everything before it)."""
    try:
        found = transaction_control(migration.sql)
    except SqlSyntaxError as exc:
        raise MigrationError(f"error: {label(migration)}: {exc}; fix: close it") from exc
    if found:
        raise MigrationError(
            f"error: {label(migration)} controls transactions ({'; '.join(found)}); "
            "fix: remove them, each file runs in one transaction of its own"
        )


def check_order(migrations: list[Migration], recorded: dict[str, str]) -> None:
    """Refuse a pending file numbered below an applied one: it was written against an older
    schema and would apply after files that came later."""
    latest = max(recorded, default="")
    early = [label(m) for m in migrations if m.version not in recorded and m.version < latest]
    if early:
        raise MigrationError(
            f"error: {', '.join(early)} numbered below {latest}, which is applied; "
            f"fix: renumber after {latest} (files are applied in version order, once)"
        )


def action_of(event: object) -> str:
    """The event's action: "status" or "apply"; an empty or absent event means apply."""
    action = (event or {}).get("action", "apply") if isinstance(event, dict | None) else None
    if action not in ("apply", "status"):
        raise MigrationError(f'unknown event {event!r}; send {{"action": "status" | "apply"}}')
    return str(action)


def label(migration: Migration) -> str:
    return f"{migration.version}_{migration.name}"


def status(conn: Connection, migrations: list[Migration]) -> dict[str, list[str]]:
    """Which discovered migrations are applied and which pending; read-only.

    Before the first apply there is no schema_migrations table: everything is pending.
    An applied file edited since is refused here as by `apply`, so a rollout stops on it.
    """
    found = conn.run("SELECT to_regclass('schema_migrations') IS NOT NULL")
    recorded: dict[str, str] = {}
    if found[0][0]:
        recorded = dict(conn.run("SELECT version, checksum FROM schema_migrations"))
    for migration in migrations:
        if recorded.get(migration.version, migration.checksum) != migration.checksum:
            raise MigrationError(f"{label(migration)} {EDITED}")
        if migration.version not in recorded:
            check_statements(migration)
    check_order(migrations, recorded)
    return {
        "pending": [label(m) for m in migrations if m.version not in recorded],
        "applied": [label(m) for m in migrations if m.version in recorded],
    }


def apply(conn: Connection, migrations: list[Migration]) -> Report:
    report = Report()
    # Session-level lock: held across the per-file transactions below.
    conn.run("SELECT pg_advisory_lock(:key)", key=ADVISORY_LOCK_KEY)
    try:
        conn.run(CREATE_LEDGER)
        recorded = dict(conn.run("SELECT version, checksum FROM schema_migrations"))
        for migration in migrations:
            if migration.version not in recorded:
                check_statements(migration)
        check_order(migrations, recorded)
        for migration in migrations:
            name = label(migration)
            if migration.version in recorded:
                if recorded[migration.version] != migration.checksum:
                    raise MigrationError(f"{name} {EDITED}")
                report.already_applied.append(name)
                continue
            _apply_one(conn, migration)
            report.applied.append(name)
    finally:
        conn.run("SELECT pg_advisory_unlock(:key)", key=ADVISORY_LOCK_KEY)
    return report


def _apply_one(conn: Connection, migration: Migration) -> None:
    with transaction(conn):
        [[before]] = conn.run("SELECT pg_current_xact_id()::text")
        conn.run(migration.sql)  # no parameters: simple protocol, several statements allowed
        # Belt and braces behind check_statements: the file must end in the transaction it
        # began in, or part of it is committed already.
        [[after]] = conn.run("SELECT pg_current_xact_id()::text")
        if after != before:
            raise MigrationError(
                f"error: {label(migration)} ended the migrator's transaction; fix: remove "
                "its transaction control (part of it may be committed: check the schema)"
            )
        conn.run(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)",
            v=migration.version,
            n=migration.name,
            c=migration.checksum,
        )
