"""output.write_all: every target or none, even when the last rename fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trading_dr import output
from trading_dr.errors import OutputError
from trading_dr.output import Target


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def previous(tmp_path: Path) -> dict[str, bytes]:
    output.write_all(
        [
            Target(tmp_path / "out" / "prod", {"templates/a.yaml": b"old"}, "--out"),
            Target(tmp_path / "templates", {"a.yaml": b"old"}, "--templates-dir", replace=False),
        ]
    )
    (tmp_path / "templates" / "README").write_bytes(b"kept")
    return snapshot(tmp_path)


NEW = [
    ("out/prod", {"templates/a.yaml": b"new", "templates/b.yaml": b"new"}, "--out", True),
    ("out/dev", {"templates/a.yaml": b"dev"}, "--out", True),
    ("templates", {"a.yaml": b"new", "audit/r.md": b"new"}, "--templates-dir", False),
]


def targets(root: Path) -> list[Target]:
    return [Target(root / d, files, option, replace) for d, files, option, replace in NEW]


def test_all_targets_are_written(tmp_path: Path, previous: dict[str, bytes]) -> None:
    output.write_all(targets(tmp_path))

    assert snapshot(tmp_path) == {
        "out/prod/templates/a.yaml": b"new",
        "out/prod/templates/b.yaml": b"new",
        "out/dev/templates/a.yaml": b"dev",
        "templates/a.yaml": b"new",
        "templates/audit/r.md": b"new",
        "templates/README": b"kept",  # some files of a directory: the others stay
    }
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dev", "prod"]


@pytest.mark.parametrize("failing_rename", range(1, 7))
def test_a_failed_rename_undoes_every_earlier_one(
    tmp_path: Path,
    previous: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    failing_rename: int,
) -> None:
    # GIVEN the n-th rename of the swap fails (the last one: templates/audit/r.md)
    real_replace = os.replace
    calls: list[object] = []

    def replace(source: str | Path, destination: str | Path) -> None:
        calls.append(destination)
        if len(calls) == failing_rename:
            raise OSError(30, "Read-only file system", str(destination))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    # WHEN everything is written
    with pytest.raises(OutputError, match="Read-only file system; nothing was written; fix:"):
        output.write_all(targets(tmp_path))
    # THEN both trees are exactly as before, with no staging left behind
    monkeypatch.setattr(os, "replace", real_replace)
    assert snapshot(tmp_path) == previous
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["prod"]
    assert sorted(p.name for p in (tmp_path / "templates").iterdir()) == ["README", "a.yaml"]


def test_a_failed_staging_removes_the_directories_it_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError, match=r"^--templates-dir: cannot write"):
        output.write_all(
            [
                Target(tmp_path / "new" / "out" / "prod", {"a": b"x"}, "--out"),
                Target(blocker / "templates", {"a": b"x"}, "--templates-dir", replace=False),
            ]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
