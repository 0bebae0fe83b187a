"""PostgreSQL connections: credentials from the RDS-managed secret, TLS, reuse, reconnect."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from trading_shared.aws import client
from trading_shared.settings import DatabaseSettings, DbAuth, TlsMode

T = TypeVar("T")

AUTH_FAILED = "28P01"
# After an Aurora global failover a connection opened earlier still talks to the demoted
# (now read-only) writer while the global writer endpoint already resolves to the new one.
READ_ONLY_TRANSACTION = "25006"


class Connection(Protocol):
    """The part of pg8000.native.Connection used here (pg8000 ships no type hints)."""

    def run(self, sql: str, stream: Any = None, types: Any = None, **params: Any) -> Any: ...

    def prepare(self, sql: str) -> Any: ...

    def close(self) -> None: ...

    @property
    def row_count(self) -> int: ...  # rows the last run() statement touched


class SecretsClient(Protocol):
    def get_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803 - boto3's parameter name
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def sqlstate(exc: BaseException) -> str | None:
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        code = exc.args[0].get("C")
        return code if isinstance(code, str) else None
    return None


def is_connection_error(exc: BaseException) -> bool:
    """True when the connection is unusable and a new one may succeed."""
    if isinstance(exc, InterfaceError | OSError):
        return True
    code = sqlstate(exc)
    # Class 08: connection exception; 57P01-57P03: server shutting down or starting up.
    return code is not None and (code.startswith(("08", "57P")) or code == READ_ONLY_TRANSACTION)


def read_only(conn: Connection) -> bool:
    """True on a read-only member of an Aurora global cluster (or a standby): where this
    region is not the writer."""
    [[answer]] = conn.run(
        "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()"
    )
    return bool(answer)


def secret_region(secret_arn: str) -> str | None:
    """The secret's own region, so a replica secret in this region can be named by ARN."""
    parts = secret_arn.split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" and parts[3] else None


def fetch_credentials(client: SecretsClient, secret_arn: str) -> Credentials:
    secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    return Credentials(username=secret["username"], password=secret["password"])


def ssl_context(settings: DatabaseSettings) -> ssl.SSLContext | None:
    if settings.tls is TlsMode.DISABLE:
        return None
    context = ssl.create_default_context(cafile=settings.ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.tls is TlsMode.REQUIRE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RdsClient(Protocol):
    def generate_db_auth_token(
        self,
        DBHostname: str,  # noqa: N803 - boto3's parameter names
        Port: int,  # noqa: N803
        DBUsername: str,  # noqa: N803
        Region: str | None = None,  # noqa: N803
    ) -> str: ...


def iam_credentials(rds: RdsClient, settings: DatabaseSettings, region: str) -> Credentials:
    """A 15-minute login token, signed locally: no call leaves the function."""
    assert settings.user is not None
    token = rds.generate_db_auth_token(
        DBHostname=settings.host, Port=settings.port, DBUsername=settings.user, Region=region
    )
    return Credentials(username=settings.user, password=token)


class Connector:
    """Opens connections. Credentials are cached briefly (under the IAM token's 15 minutes)
    and fetched again when the server refuses them: RDS rotates the managed password."""

    def __init__(
        self,
        settings: DatabaseSettings,
        credentials: Callable[[], Credentials],
        *,
        credentials_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.fetch_credentials = credentials
        self.credentials_ttl_s = credentials_ttl_s
        self.clock = clock
        self._credentials: tuple[float, Credentials] | None = None
        self._ssl = ssl_context(settings)

    def credentials(self) -> Credentials:
        now = self.clock()
        if self._credentials is None or now - self._credentials[0] > self.credentials_ttl_s:
            self._credentials = (now, self.fetch_credentials())
        return self._credentials[1]

    def connect(self) -> Connection:
        try:
            return self._open(self.credentials())
        except DatabaseError as exc:
            if sqlstate(exc) != AUTH_FAILED:
                raise
            self._credentials = None
            return self._open(self.credentials())

    def _open(self, credentials: Credentials) -> Connection:
        conn: Connection = pg8000.native.Connection(
            user=credentials.username,
            password=credentials.password,
            host=self.settings.host,
            port=self.settings.port,
            database=self.settings.name,
            sock=self._socket(),
            # pg8000 reads None as "try TLS, fall back to plain": only False means plain.
            ssl_context=False if self._ssl is None else self._ssl,
            timeout=self.settings.timeout_s,
            application_name="trading-dr",
        )
        return conn

    def _socket(self) -> socket.socket:
        """A TCP socket with Nagle off. pg8000 leaves it on, and a multi-row INSERT's
        parameters span several segments: the last one then waits for the server's delayed
        ACK, adding ~40 ms to every batch (measured: 100 rows took 50 ms instead of 5)."""
        address = (self.settings.host, self.settings.port)
        try:
            sock = socket.create_connection(address, timeout=self.settings.timeout_s)
        except OSError as exc:
            raise InterfaceError(f"cannot connect to {address[0]}:{address[1]}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock


def connector(
    settings: DatabaseSettings, region: str, *, timeout_s: float = 5.0, attempts: int = 3
) -> Connector:
    """A Connector whose credentials come from IAM (DB_AUTH=iam) or the secret."""
    if settings.auth is DbAuth.IAM:
        rds = client("rds", region=region, timeout_s=timeout_s, attempts=attempts)
        return Connector(settings, partial(iam_credentials, rds, settings, region))
    assert settings.secret_arn is not None
    secrets = client(
        "secretsmanager",
        region=secret_region(settings.secret_arn) or region,
        timeout_s=timeout_s,
        attempts=attempts,
    )
    return Connector(settings, partial(fetch_credentials, secrets, settings.secret_arn))


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """One explicit transaction: committed when the block ends, rolled back when it raises.
    The block's own error is the one raised: on a broken connection the server has already
    rolled back, and a failing ROLLBACK would only hide why."""
    conn.run("START TRANSACTION")
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            conn.run("ROLLBACK")
        raise
    conn.run("COMMIT")


def close_quietly(conn: Connection) -> None:
    # The socket is often already gone; there is nothing left to clean up then.
    with contextlib.suppress(Exception):
        conn.close()


class ConnectionCache:
    """One connection kept across invocations of a warm Lambda, replaced when it breaks."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._conn: Connection | None = None

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on the kept connection. A kept connection may have gone stale while
        the function was idle (server restart, failover), so one failure of it is retried
        on a fresh connection; `work` must therefore be idempotent."""
        reused = self._conn is not None
        try:
            return work(self._get())
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            self.discard()
            if not reused:
                raise
        try:
            return work(self._get())
        except Exception as exc:
            if is_connection_error(exc):
                self.discard()
            raise

    def discard(self) -> None:
        if self._conn is not None:
            close_quietly(self._conn)
            self._conn = None

    def _get(self) -> Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn
