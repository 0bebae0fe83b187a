"""Deterministic Lambda zips: same inputs, same bytes, so templates can name code by hash.

Each function's zip holds, at its root: the function's directory of lambda_src/, the shared
`trading_shared` package, and its runtime dependencies vendored from this interpreter's
site-packages (the installed distributions' own file lists, via importlib.metadata), so
nothing is downloaded at generate time. boto3 and botocore come with the Lambda runtime.
Only pure-Python distributions are accepted: a compiled extension built here would not
load on Lambda's arm64 python3.12.

Entries are sorted, dated 1980-01-01, mode 0644, deflated at level 6 (level 9 took 50%
longer for zips 0.4% smaller), laid out exactly as `zipfile` lays them out (a test holds the
bytes equal). The functions share most of their files (powertools, pg8000), so each distinct
file is deflated once and its compressed bytes are placed in every zip that holds it: about
4 MB to compress instead of 20. The zips are also cached under out/.cache/lambda/ keyed by a
hash of every input: the project's files by content, each distribution by its RECORD (which
holds its files' hashes) and the zlib version; a cache hit costs about 15 ms.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
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
    "reconciler": (POWERTOOLS, PG8000),
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
    cached = {
        name: None if cache_dir is None else cache_dir / f"{name}-{_input_hash(own, dists)}.zip"
        for name, (own, dists) in inputs.items()
    }
    hits = {name: path.read_bytes() for name, path in cached.items() if path and path.is_file()}
    contents = {
        name: _entries(name, own, dists)
        for name, (own, dists) in inputs.items()
        if name not in hits
    }
    compressed = _compress_once(contents.values())
    packages = {}
    for name in inputs:
        data = hits.get(name)
        if data is None:
            data = raw_zip_bytes((arc, compressed[src]) for arc, src in contents[name].items())
            path = cached[name]
            if path is not None:
                _store(path, data)
        packages[name] = Package(name, data, hashlib.sha256(data).hexdigest())
    return packages


@dataclass(frozen=True)
class Deflated:
    """One file's deflate stream with what a zip entry records of it."""

    data: bytes
    crc: int
    size: int

    @classmethod
    def of(cls, content: bytes) -> Deflated:
        # The compressor zipfile uses for ZIP_DEFLATED, so the bytes match its output.
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
        data = compressor.compress(content) + compressor.flush()
        return cls(data, zlib.crc32(content), len(content))


def _entries(name: str, own: list[tuple[str, Path]], dists: list[Installed]) -> dict[str, Path]:
    """Path in the zip -> source file, refusing two sources for one path."""
    entries: dict[str, Path] = {}
    for arcname, source in [*own, *(f for d in dists for f in distribution_files(d))]:
        if arcname in entries:
            raise PackagingError(f"{name}: two sources for {arcname} in the zip")
        entries[arcname] = source
    return entries


def _compress_once(contents: Iterable[Mapping[str, Path]]) -> dict[Path, Deflated]:
    """Each distinct source file deflated once; zlib releases the GIL, so two threads use
    both cores. Largest first, so the last file to finish is a small one."""
    sources = {source for entries in contents for source in entries.values()}
    data = {source: source.read_bytes() for source in sources}
    order = sorted(data, key=lambda source: (-len(data[source]), str(source)))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        deflated = list(pool.map(lambda source: Deflated.of(data[source]), order))
    return dict(zip(order, deflated, strict=True))


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


@cache
def distribution_files(installed: Installed) -> tuple[tuple[str, Path], ...]:
    """(path in zip, source) for an installed distribution, from its RECORD, read once per
    distribution as plain text (importlib's PackagePath objects cost more than the reads)."""
    name, version = installed.name, installed.version
    root = Path(str(installed.dist.locate_file("")))
    files = []
    for row in csv.reader(_record(installed).splitlines()):
        if not row:
            continue
        entry = row[0]
        parts = entry.split("/")
        suffix = os.path.splitext(parts[-1])[1]
        if parts[0] == ".." or "__pycache__" in parts or suffix == ".pyc":
            continue  # scripts in bin/, and bytecode Lambda compiles itself
        if parts[0].endswith(".dist-info") and parts[-1] in SKIPPED_METADATA:
            continue
        if suffix in NATIVE_SUFFIXES or ".so." in parts[-1]:
            raise PackagingError(
                f"{name} {version} ships a compiled extension ({entry}); only pure-Python "
                "dependencies can be vendored from this machine"
            )
        source = root / entry
        if not source.is_file():
            raise PackagingError(f"{name}: {entry} is listed but missing; reinstall it")
        files.append((entry, source))
    return tuple(files)


@cache
def _record(installed: Installed) -> str:
    record = installed.dist.read_text("RECORD")
    if record is None:
        raise PackagingError(
            f"{installed.name}: installed without a file list (RECORD); reinstall it with pip"
        )
    return record


def zip_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A deterministic zip of (path, content) pairs."""
    return raw_zip_bytes((arcname, Deflated.of(data)) for arcname, data in entries)


_DOS_TIME = ZIP_EPOCH[3] << 11 | ZIP_EPOCH[4] << 5 | ZIP_EPOCH[5] // 2
_DOS_DATE = (ZIP_EPOCH[0] - 1980) << 9 | ZIP_EPOCH[1] << 5 | ZIP_EPOCH[2]
# A central directory record is this head, the entry's offset ("<L") and its name.
_CENTRAL_HEAD = struct.Struct("<4s4B4HL2L5HL")
_END = struct.Struct("<4s4H2LH")


@cache
def _records(arcname: str, item: Deflated) -> tuple[bytes, bytes, bytes]:
    """(local header + data, central head, name) of one entry, made once however many zips
    hold it, with zipfile's own local header (`ZipInfo.FileHeader`)."""
    info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
    info.create_system = 3  # unix, so external_attr carries the mode
    info.external_attr = FILE_MODE << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC, info.compress_size, info.file_size = item.crc, len(item.data), item.size
    name = arcname.encode("ascii" if arcname.isascii() else "utf-8")
    head = _CENTRAL_HEAD.pack(
        b"PK\x01\x02",
        *(20, 3, 20, 0),  # made by 2.0 on unix, needs 2.0, reserved
        *(0 if arcname.isascii() else 0x800, zipfile.ZIP_DEFLATED, _DOS_TIME, _DOS_DATE),
        *(item.crc, len(item.data), item.size),
        *(len(name), 0, 0, 0, 0),  # name, no extra, no comment, disk 0, binary
        FILE_MODE << 16,
    )
    return info.FileHeader(zip64=False) + item.data, head, name


def raw_zip_bytes(entries: Iterable[tuple[str, Deflated]]) -> bytes:
    """The bytes `zipfile` writes for these already-deflated entries, sorted by path; no
    zip64, which no Lambda zip needs (Lambda takes 50 MB zipped)."""
    parts: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for arcname, item in sorted(entries, key=lambda entry: entry[0]):
        local, head, name = _records(arcname, item)
        if offset + len(local) > zipfile.ZIP64_LIMIT:
            raise PackagingError(f"zip too large at {arcname}: Lambda accepts 50 MB zipped")
        central += (head, offset.to_bytes(4, "little"), name)
        parts.append(local)
        offset += len(local)
    directory = b"".join(central)
    count = len(central) // 3
    end = _END.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0)
    return b"".join(parts) + directory + end


def _input_hash(own: list[tuple[str, Path]], dists: list[Installed]) -> str:
    """Every input byte, cheaply: the project's own files by content, each installed
    distribution by its RECORD, which lists the sha256 of every file it installed."""
    key = hashlib.sha256(f"format {FORMAT_VERSION}\0".encode())
    # Another zlib may compress differently: a cache hit must equal a fresh build.
    key.update(zlib.ZLIB_RUNTIME_VERSION.encode())
    for arcname, source in sorted(own):
        key.update(arcname.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest())
    for installed in dists:
        key.update(f"{installed.name} {installed.version}\0{_record(installed)}".encode())
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
