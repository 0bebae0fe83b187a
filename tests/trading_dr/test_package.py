"""Deterministic Lambda zips: contents, byte-for-byte reproducibility, cache, self-sufficiency."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_dr import package
from trading_dr.package import LAMBDA_SRC, Package, PackagingError, build_packages

HANDLERS = {
    "intake": "intake_handler",
    "processor": "processor_handler",
    "health": "health_handler",
    "migrate": "migrate_handler",
    "shipper": "shipper_handler",
}


@cache
def built() -> dict[str, Package]:
    return build_packages(cache_dir=None)


def names(pkg: Package) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(pkg.data)).namelist()


def test_two_builds_give_identical_bytes() -> None:
    # GIVEN the same sources and installed dependencies
    # WHEN the zips are built twice without a cache
    first, second = built(), build_packages(cache_dir=None)

    # THEN every zip is byte-identical and named by its content hash
    assert {n: p.data for n, p in first.items()} == {n: p.data for n, p in second.items()}
    for name, pkg in first.items():
        assert pkg.s3_key == f"lambda/{name}-{pkg.sha256[:16]}.zip"


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_zip_holds_handler_shared_code_and_its_dependencies(function: str) -> None:
    # GIVEN a function's zip
    entries = names(built()[function])

    # THEN the handler and logic modules sit at the root with trading_shared and powertools,
    # the database driver only where a database is used, and no SDK the runtime provides
    assert f"{HANDLERS[function]}.py" in entries
    assert "trading_shared/trade.py" in entries
    assert "aws_lambda_powertools/logging/logger.py" in entries
    needs_db = function != "intake"
    assert ("pg8000/native.py" in entries) is needs_db
    assert ("scramp/core.py" in entries) is needs_db
    assert not [e for e in entries if e.startswith(("boto3/", "botocore/"))]
    if function == "migrate":
        assert "migrations/0001_trades.sql" in entries


def test_zip_entries_are_normalised() -> None:
    # GIVEN every built zip
    for pkg in built().values():
        infos = zipfile.ZipFile(io.BytesIO(pkg.data)).infolist()

        # THEN entries are sorted, dated 1980-01-01, mode 0644, with no bytecode or
        # machine-specific installer files
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert not [
            i.filename
            for i in infos
            if "__pycache__" in i.filename
            or i.filename.endswith((".pyc", "/RECORD", "/INSTALLER", "/direct_url.json"))
        ]


def test_cache_returns_the_same_bytes_and_follows_source_changes(tmp_path: Path) -> None:
    # GIVEN a copy of lambda_src and an empty cache
    src = tmp_path / "lambda_src"
    shutil.copytree(LAMBDA_SRC, src, ignore=shutil.ignore_patterns("__pycache__"))
    cache_dir = tmp_path / "cache"

    # WHEN zips are built cold, then warm
    cold = build_packages(src, cache_dir=cache_dir)
    warm = build_packages(src, cache_dir=cache_dir)

    # THEN both equal an uncached build, and one zip per function is cached
    assert {n: p.data for n, p in cold.items()} == {n: p.data for n, p in built().items()}
    assert {n: p.data for n, p in warm.items()} == {n: p.data for n, p in cold.items()}
    assert len(list(cache_dir.glob("*.zip"))) == len(package.FUNCTIONS)

    # AND after a shared module changes, every zip changes and the new code is inside
    trade = src / "shared" / "trading_shared" / "trade.py"
    trade.write_text(trade.read_text() + "\n# changed\n")
    changed = build_packages(src, cache_dir=cache_dir)
    assert all(changed[n].sha256 != cold[n].sha256 for n in cold)
    inside = zipfile.ZipFile(io.BytesIO(changed["intake"].data)).read("trading_shared/trade.py")
    assert inside.endswith(b"# changed\n")
    assert len(list(cache_dir.glob("*.zip"))) == len(package.FUNCTIONS), "stale ones pruned"


def test_unzipped_functions_import_with_only_the_runtimes_libraries(tmp_path: Path) -> None:
    # GIVEN each zip extracted, and a directory holding just what Lambda's Python runtime
    # provides besides the standard library (the SDK and its dependencies)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for module in ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"):
        spec = __import__(module)
        origin = Path(spec.__file__ or "")
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)

    for function, handler in HANDLERS.items():
        code = tmp_path / function
        zipfile.ZipFile(io.BytesIO(built()[function].data)).extractall(code)

        # WHEN the handler module is imported without site-packages
        result = subprocess.run(
            [sys.executable, "-S", "-c",
             f"import sys; sys.path[:0] = [{str(code)!r}, {str(runtime)!r}]; import {handler}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

        # THEN it imports: every dependency it needs is in its zip
        assert result.returncode == 0, f"{function}: {result.stderr}"


def test_compiled_dependencies_are_refused() -> None:
    # GIVEN an installed distribution with a compiled extension (PyYAML's libyaml binding)
    # WHEN it is vendored, THEN packaging refuses rather than ship a wrong-platform binary
    with pytest.raises(PackagingError, match="compiled extension"):
        package.distribution_files(package.Installed.find("PyYAML"))


def test_requirements_with_extras_are_skipped_and_unknown_markers_refused() -> None:
    assert package._runtime_requirement("jmespath<2.0.0,>=1.0.1") == "jmespath"
    assert package._runtime_requirement("pydantic>=2; extra == 'parser'") is None
    with pytest.raises(PackagingError, match="unsupported requirement marker"):
        package._runtime_requirement("tomli; python_version < '3.11'")


def _zipfile_bytes(entries: dict[str, bytes]) -> bytes:
    """The same entries written by the standard library, the reference layout."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(entries.items()):
            info = zipfile.ZipInfo(arcname, date_time=package.ZIP_EPOCH)
            info.create_system = 3
            info.external_attr = package.FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=package.COMPRESS_LEVEL)
    return buffer.getvalue()


@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00/\\"), min_size=1),
        st.binary(max_size=2048),
        max_size=8,
    )
)
def test_zip_writer_lays_out_bytes_exactly_as_zipfile(entries: dict[str, bytes]) -> None:
    # GIVEN any entries (non-ASCII names included)
    # WHEN written from once-deflated entries THEN the bytes are zipfile's, byte for byte
    assert package.zip_bytes(entries.items()) == _zipfile_bytes(entries)


def test_a_file_shared_by_several_zips_is_compressed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a counter on the deflate step
    calls: list[int] = []
    original = package.Deflated.of.__func__  # type: ignore[attr-defined]

    def counting(cls: type[package.Deflated], content: bytes) -> package.Deflated:
        calls.append(len(content))
        result: package.Deflated = original(cls, content)
        return result

    monkeypatch.setattr(package.Deflated, "of", classmethod(counting))
    # WHEN every zip is built
    built_now = build_packages(cache_dir=None)
    # THEN each distinct source file was deflated once, though the zips hold it many times
    placed = sum(len(names(pkg)) for pkg in built_now.values())
    distinct = len({n for pkg in built_now.values() for n in names(pkg)})
    assert len(calls) == distinct < placed
    # AND the bytes are those of an independent build
    assert {n: p.data for n, p in built_now.items()} == {n: p.data for n, p in built().items()}
