"""Deterministic Lambda zips: same inputs, same bytes, so templates can name code by hash.

Each function's zip holds, at its root: the function's directory of lambda_src/, the shared
`trading_shared` package, and its runtime dependencies vendored from this interpreter's
site-packages (the installed distributions' own file lists, via importlib.metadata), so
nothing is downloaded at generate time. boto3 and botocore come with the Lambda runtime.
Only pure-Python distributions are accepted: a compiled extension built here would not
load on Lambda's arm64 python3.12.

Entries are sorted, dated 1980-01-01, mode 0644, deflated at level 6 (level 9 took 50%
longer for zips 0.4% smaller). Compressing ~4 MB per zip takes 0.6 s on two cores, so the
zips are cached under out/.cache/lambda/ keyed by a hash of every input: the project's
files by content, each distribution by its RECORD (which holds its files' hashes) and the
zlib version. A cache hit costs about 15 ms.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = ROOT / "lambda_src"
DEFAULT_CACHE = ROOT / "out" / ".cache" / "lambda"

POWERTOOLS = "aws-lambda-powertools"
PG8000 = "pg8000"
# Direct runtime dependencies per function; their own requirements follow transitively.
FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "intake": (POWERTOOLS,),
    "processor": (POWERTOOLS, PG8000),
    "health": (POWERTOOLS, PG8000),
    "migrate": (POWERTOOLS, PG8000),
    "shipper": (POWERTOOLS, PG8000),
    # boto3 and the standard library only: it is a readiness check, not an app.
    "validator": (),
}
SHARED_PACKAGE = "trading_shared"
# In every Lambda Python runtime already; vendoring them would pin an SDK for no gain.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
COMPRESS_LEVEL = 6
# Bump to invalidate every cached zip when the zip layout itself changes.
FORMAT_VERSION = "1"
# Installer bookkeeping differs between machines (pip vs uv, install paths) for the same
# code, and RECORD lists bytecode hashes; none of it is needed at run time.
SKIPPED_METADATA = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")


class PackagingError(RuntimeError):
    pass


@dataclass(frozen=True)
class Package:
    name: str
    data: bytes
    sha256: str

    @property
    def s3_key(self) -> str:
        return f"lambda/{self.name}-{self.sha256[:16]}.zip"


def build_packages(
    root: Path = LAMBDA_SRC, *, cache_dir: Path | None = DEFAULT_CACHE
) -> dict[str, Package]:
    """Every function's zip, by function name (intake, processor, health, migrate, ...)."""
    shared = _own_files(root / "shared" / SHARED_PACKAGE, SHARED_PACKAGE + "/")
    installed: dict[str, Installed] = {}
    inputs = {
        name: (
            _own_files(root / name, "") + shared,
            [installed[d] for d in dependency_closure(requirements, installed)],
        )
        for name, requirements in FUNCTIONS.items()
    }
    # zlib releases the GIL: on a cache miss the zips compress in parallel.
    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        futures = {
            name: pool.submit(_build, name, own, dists, cache_dir)
            for name, (own, dists) in inputs.items()
        }
        return {name: future.result() for name, future in futures.items()}


@dataclass(frozen=True)
class Installed:
    """An installed distribution with the header fields of its METADATA.

    The header is read directly: importlib.metadata parses the whole file (README
    included) with the email parser on every access, which would dominate a cached build.
    """

    dist: importlib.metadata.Distribution
    name: str
    version: str
    requires: tuple[str, ...]

    @classmethod
    def find(cls, name: str) -> Installed:
        dist = importlib.metadata.distribution(name)
        header = (dist.read_text("METADATA") or "").split("\n\n", 1)[0]
        fields: dict[str, list[str]] = {}
        for line in header.splitlines():
            key, sep, value = line.partition(": ")
            if sep and not line.startswith((" ", "\t")):
                fields.setdefault(key, []).append(value.strip())
        return cls(
            dist,
            fields.get("Name", [name])[0],
            fields.get("Version", ["?"])[0],
            tuple(fields.get("Requires-Dist", [])),
        )


def dependency_closure(
    requirements: Iterable[str], installed: dict[str, Installed] | None = None
) -> list[str]:
    """Distribution names needed at run time, sorted, excluding the runtime's own."""
    known = {} if installed is None else installed
    seen: set[str] = set()
    pending = [_canonical(r) for r in requirements]
    while pending:
        name = pending.pop()
        if name in seen or name in RUNTIME_PROVIDED:
            continue
        seen.add(name)
        if name not in known:
            known[name] = Installed.find(name)
        for requirement in known[name].requires:
            dependency = _runtime_requirement(requirement)
            if dependency is not None:
                pending.append(dependency)
    return sorted(seen)


def distribution_files(installed: Installed) -> list[tuple[str, Path]]:
    """(path in zip, source) for an installed distribution, from its RECORD."""
    dist, name, version = installed.dist, installed.name, installed.version
    listed = dist.files
    if listed is None:
        raise PackagingError(f"{name}: installed without a file list; reinstall it with pip")
    files = []
    for entry in listed:
        parts = entry.parts
        if parts[0] == ".." or "__pycache__" in parts or entry.suffix == ".pyc":
            continue  # scripts in bin/, and bytecode Lambda compiles itself
        if parts[0].endswith(".dist-info") and parts[-1] in SKIPPED_METADATA:
            continue
        if entry.suffix in NATIVE_SUFFIXES or ".so." in entry.name:
            raise PackagingError(
                f"{name} {version} ships a compiled extension ({entry}); only pure-Python "
                "dependencies can be vendored from this machine"
            )
        source = Path(str(dist.locate_file(entry)))
        if not source.is_file():
            raise PackagingError(f"{name}: {entry} is listed but missing; reinstall it")
        files.append((entry.as_posix(), source))
    return files


def zip_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def _build(
    name: str,
    own: list[tuple[str, Path]],
    dists: list[Installed],
    cache_dir: Path | None,
) -> Package:
    cached = None if cache_dir is None else cache_dir / f"{name}-{_input_hash(own, dists)}.zip"
    if cached is not None and cached.is_file():
        data = cached.read_bytes()
    else:
        entries: dict[str, bytes] = {}
        for arcname, source in own + [f for d in dists for f in distribution_files(d)]:
            if arcname in entries:
                raise PackagingError(f"{name}: two sources for {arcname} in the zip")
            entries[arcname] = source.read_bytes()
        data = zip_bytes(entries.items())
        if cached is not None:
            _store(cached, data)
    return Package(name, data, hashlib.sha256(data).hexdigest())


def _input_hash(own: list[tuple[str, Path]], dists: list[Installed]) -> str:
    """Every input byte, cheaply: the project's own files by content, each installed
    distribution by its RECORD, which lists the sha256 of every file it installed."""
    key = hashlib.sha256(f"format {FORMAT_VERSION}\0".encode())
    # Another zlib may compress differently: a cache hit must equal a fresh build.
    key.update(zlib.ZLIB_RUNTIME_VERSION.encode())
    for arcname, source in sorted(own):
        key.update(arcname.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest())
    for installed in dists:
        record = installed.dist.read_text("RECORD")
        if record is None:
            raise PackagingError(f"{installed.name}: installed without a RECORD; reinstall it")
        key.update(f"{installed.name} {installed.version}\0{record}".encode())
    return key.hexdigest()


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.zip"):
        stale.unlink(missing_ok=True)  # one cached zip per function is enough
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a concurrent generate never reads half a zip


def _own_files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    if not directory.is_dir():
        raise PackagingError(f"missing Lambda source directory {directory}")
    return [
        (prefix + path.relative_to(directory).as_posix(), path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _runtime_requirement(requirement: str) -> str | None:
    """The distribution a Requires-Dist line needs at run time; None for extras."""
    spec, _, marker = requirement.partition(";")
    if marker.strip():
        if "extra" in marker:
            return None
        # No other marker occurs in today's closure; evaluating one needs `packaging`.
        raise PackagingError(f"unsupported requirement marker: {requirement!r}")
    match = _NAME_RE.match(spec)
    if not match:
        raise PackagingError(f"unreadable requirement: {requirement!r}")
    return _canonical(match.group(1))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
