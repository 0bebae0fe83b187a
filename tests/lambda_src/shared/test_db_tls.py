"""Database TLS against a real PostgreSQL that presents a certificate of its own CA.

verify-full is what the functions use in production (against the shipped RDS CA bundle):
the login (an IAM token as the password) goes only to a server whose certificate chains to
the given CA and names the host connected to.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pg8000.exceptions import InterfaceError
from trading_shared.db import Connector, Credentials
from trading_shared.settings import (
    RDS_CA_BUNDLE,
    DatabaseSettings,
    DbAuth,
    TlsMode,
)

from tests.support.postgres import PostgresServer, running_postgres

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that signed nothing the server has


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _enable_tls(server: PostgresServer, tmp: Path) -> Pki:
    """A CA, a server certificate for `localhost` only, and ssl=on on the running server."""
    ca_key, ca_cert = _ca("trading-dr test CA")
    _, other_cert = _ca("an unrelated CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server_cert, server_key = server.data / "server.crt", server.data / "server.key"
    server_cert.write_bytes(_pem(cert))
    server_key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))  # fmt: skip
    server_key.chmod(0o600)
    if os.getuid() == 0:  # the server runs as postgres and refuses a key it does not own
        for path in (server_cert, server_key):
            shutil.chown(path, "postgres", "postgres")
    conn = server.connect()
    try:
        conn.run("ALTER SYSTEM SET ssl = on")
        conn.run("SELECT pg_reload_conf()")
    finally:
        conn.close()
    pki = Pki(tmp / "ca.pem", tmp / "other-ca.pem")
    pki.ca.write_bytes(_pem(ca_cert))
    pki.other_ca.write_bytes(_pem(other_cert))
    return pki


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresServer, Pki]]:
    with running_postgres() as server:
        yield server, _enable_tls(server, tmp_path_factory.mktemp("pki"))


def _settings(server: PostgresServer, pki: Pki, **changes: object) -> DatabaseSettings:
    base = DatabaseSettings(
        host="localhost", port=server.port, name="postgres", auth=DbAuth.SECRET, user=None,
        secret_arn="unused", tls=TlsMode.VERIFY_FULL, ca_bundle=str(pki.ca), timeout_s=10,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def _connect(server: PostgresServer, settings: DatabaseSettings) -> bool:
    """Connects and says whether the session is encrypted."""
    conn = Connector(settings, lambda: Credentials(server.user, server.password)).connect()
    try:
        [[encrypted]] = conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        conn.close()
    return bool(encrypted)


def test_verify_full_connects_to_the_server_its_ca_vouches_for(
    tls_server: tuple[PostgresServer, Pki],
) -> None:
    # GIVEN a server whose certificate the CA signed for `localhost`
    server, pki = tls_server

    # WHEN the functions' connector opens a verify-full connection to localhost
    # THEN it is encrypted
    assert _connect(server, _settings(server, pki)) is True


# Each way the server's identity can fail to check out; the login must never be sent.
IMPOSTORS = {
    "certificate of another CA": {"ca_bundle": "other"},
    "host name not in the certificate": {"host": "127.0.0.1"},
    "the RDS bundle (an RDS server only)": {"ca_bundle": str(RDS_CA_BUNDLE)},
}


@pytest.mark.parametrize("changes", IMPOSTORS.values(), ids=IMPOSTORS.keys())
def test_verify_full_refuses_a_server_it_cannot_verify(
    tls_server: tuple[PostgresServer, Pki], changes: dict[str, str]
) -> None:
    # GIVEN verify-full settings under which the server's certificate does not check out
    server, pki = tls_server
    if changes.get("ca_bundle") == "other":
        changes = {"ca_bundle": str(pki.other_ca)}
    settings = _settings(server, pki, **changes)

    # WHEN the connector connects, THEN the TLS handshake fails before any login is sent
    with pytest.raises((ssl.SSLCertVerificationError, InterfaceError)) as caught:
        _connect(server, settings)
    assert "certificate verify failed" in str(caught.value) or isinstance(
        caught.value.__cause__ or caught.value.__context__, ssl.SSLCertVerificationError
    )


def test_require_encrypts_but_would_talk_to_anyone(tls_server: tuple[PostgresServer, Pki]) -> None:
    # GIVEN the unverified mode and a CA that signed nothing the server has
    server, pki = tls_server
    settings = _settings(server, pki, tls=TlsMode.REQUIRE, ca_bundle=str(pki.other_ca))

    # WHEN it connects, THEN it succeeds: which is why production uses verify-full
    assert _connect(server, settings) is True


def test_shipped_bundle_is_the_pinned_one_and_holds_the_platform_regions_roots() -> None:
    # GIVEN the committed bundle and the script that pins its origin
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import rds_ca_bundle  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    data = RDS_CA_BUNDLE.read_bytes()

    # THEN its bytes are the pinned ones, every certificate loads, and the roots of the
    # platform's regions for each RDS CA (Aurora User Guide, "Certificate authorities")
    # are there and valid now
    assert hashlib.sha256(data).hexdigest() == rds_ca_bundle.BUNDLE_SHA256
    certs = x509.load_pem_x509_certificates(data)
    assert len(ssl.create_default_context(cafile=str(RDS_CA_BUNDLE)).get_ca_certs()) == len(certs)
    now = datetime.now(UTC)
    valid = {
        c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        for c in certs
        if c.not_valid_before_utc <= now < c.not_valid_after_utc
    }
    for region in ("us-east-1", "us-east-2", "us-west-2"):
        for kind in ("RSA2048", "RSA4096", "ECC384"):
            assert f"Amazon RDS {region} Root CA {kind} G1" in valid
