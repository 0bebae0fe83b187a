"""Write the generator's output trees all-or-nothing, with the user's umask.

Everything is staged first (a failure there changes nothing); then each target is swapped
in by rename, and if a rename fails the ones already made are undone. So `out/<env>/` and
`templates/` are either all the new rendering or all the previous one.

Staging directories and files are created with plain `mkdir`/`open`, not `mkdtemp`/
`mkstemp`: those create 0700/0600 on purpose (private temp files), and renaming them into
place would leave the rendered templates unreadable to anyone else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trading_dr.errors import OutputError


@dataclass(frozen=True)
class Target:
    """One thing to write: a whole tree (`replace=True`: exactly `files`) or some files
    of a directory that holds others too; `option` names it in errors (e.g. --out)."""

    directory: Path
    files: Mapping[str, bytes]
    option: str
    replace: bool = True


@dataclass
class _Transaction:
    undo: list[Callable[[], None]] = field(default_factory=list)
    cleanup: list[Path] = field(default_factory=list)
    created: list[Path] = field(default_factory=list)

    def make_dirs(self, directory: Path) -> None:
        """mkdir -p, remembering what it created so a failure can remove it again."""
        missing = []
        for parent in (directory, *directory.parents):
            if parent.exists():
                break
            missing.append(parent)
        for path in reversed(missing):
            path.mkdir()
            self.created.append(path)

    def fresh_dir(self, beside: Path, kind: str) -> Path:
        path = beside.parent / f".{beside.name}.{kind}-{secrets.token_hex(4)}"
        path.mkdir()
        self.cleanup.append(path)
        return path

    def rename(self, source: Path, destination: Path) -> None:
        os.replace(source, destination)
        self.undo.append(lambda: os.replace(destination, source))

    def rollback(self) -> None:
        """Undo the renames, drop the staging, remove the directories made for it."""
        for action in reversed(self.undo):
            # Best effort: the error being reported matters more than a failed undo.
            with contextlib.suppress(OSError):
                action()
        self.finish()
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                path.rmdir()

    def finish(self) -> None:
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def _stage(staging: Path, files: Mapping[str, bytes]) -> None:
    for relative, data in sorted(files.items()):
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as stream:
            stream.write(data)


def write_all(targets: list[Target]) -> None:
    """Write every target or none; an OSError becomes an OutputError naming the option."""
    transaction = _Transaction()
    current = targets[0] if targets else None
    try:
        staged: list[tuple[Target, Path]] = []
        for target in targets:
            current = target
            transaction.make_dirs(target.directory.parent)
            anchor = target.directory if target.replace else target.directory / "files"
            if not target.replace:
                transaction.make_dirs(target.directory)
            staging = transaction.fresh_dir(anchor, "new")
            _stage(staging, target.files)
            staged.append((target, staging))
        for target, staging in staged:
            current = target
            if target.replace:
                _swap_tree(transaction, target.directory, staging)
            else:
                _swap_files(transaction, target.directory, staging, target.files)
    except OSError as exc:
        transaction.rollback()
        assert current is not None
        where = exc.filename or current.directory
        raise OutputError(
            f"{current.option}: cannot write {where}: {exc.strerror or exc}; nothing was "
            f"written; fix: pass a writable directory as {current.option}"
        ) from exc
    except BaseException:
        transaction.rollback()
        raise
    transaction.finish()


def _swap_tree(transaction: _Transaction, target: Path, staging: Path) -> None:
    if target.exists():
        old = transaction.fresh_dir(target, "old")
        transaction.rename(target, old / "tree")
    transaction.rename(staging, target)


def _swap_files(
    transaction: _Transaction, directory: Path, staging: Path, files: Mapping[str, bytes]
) -> None:
    old = transaction.fresh_dir(directory / "files", "old")
    for relative in sorted(files):
        final = directory / relative
        transaction.make_dirs(final.parent)
        if final.exists():
            kept = old / relative
            kept.parent.mkdir(parents=True, exist_ok=True)
            transaction.rename(final, kept)
        transaction.rename(staging / relative, final)
