"""A throwaway PostgreSQL server from the Debian package: initdb + pg_ctl in a temp dir.

initdb and postgres refuse to run as root (CI is root), so as root every server command
runs as the `postgres` system user on a directory it owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pg8000.native

SUPERUSER = "postgres"


class PostgresUnavailableError(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The newest installed server (`PG_BIN` overrides, for non-Debian machines)."""
    if override := os.environ.get("PG_BIN"):
        return Path(override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailableError(
            "no PostgreSQL server found under /usr/lib/postgresql/*/bin; install it with "
            "`apt-get install -y postgresql` (scripts/test does) or set PG_BIN"
        )
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """One cluster on 127.0.0.1:<free port>, password (SCRAM) authentication over TCP."""

    def __init__(self, root: Path, *, durable: bool = False) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.bin = find_bin_dir()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user = SUPERUSER
        self.password = secrets.token_urlsafe(16)
        self.durable = durable
        self._as_postgres = os.getuid() == 0

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, check=False, cwd=self.root
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise PostgresUnavailableError(
                f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n{log[-2000:]}"
            )

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        pwfile.unlink()
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "50",
        }
        if not self.durable:
            # Without fsync, writes still reach the OS before a commit returns, so they
            # survive a server crash (`stop("immediate")`), just not a machine crash; and
            # CREATE DATABASE gets cheap. synchronous_commit stays on: a server crash would
            # lose the last commits otherwise.
            settings |= {"fsync": "off", "full_page_writes": "off"}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects clients cleanly; `immediate` is a crash, like a lost host."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def connect(self, database: str = "postgres") -> pg8000.native.Connection:
        return pg8000.native.Connection(
            user=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
            timeout=10,
        )

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.run(f"CREATE DATABASE {pg8000.native.identifier(name)}")
        finally:
            conn.close()

    def drop_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.run(f"DROP DATABASE IF EXISTS {pg8000.native.identifier(name)} WITH (FORCE)")
        finally:
            conn.close()


@contextmanager
def running_postgres(*, durable: bool = False) -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="trading-dr-pg-"))
    server = PostgresServer(root, durable=durable)
    started = False
    try:
        server.init()
        server.start()
        started = True
        yield server
    finally:
        if started:
            # A test may have left it stopped.
            with contextlib.suppress(PostgresUnavailableError):
                server.stop()
        shutil.rmtree(root, ignore_errors=True)
