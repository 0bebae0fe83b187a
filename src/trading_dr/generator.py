"""Render environments to files and write them atomically (behind `python generate.py`).

Everything is rendered in memory first, so a config or build error writes nothing; each
output tree is then staged next to its target and swapped in with renames, so a failure
part-way leaves the previous output intact.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from trading_dr.config import Environment, environment_names, load_environment
from trading_dr.errors import StaleTemplatesError, UsageError
from trading_dr.render import to_yaml
from trading_dr.stacks import build_templates

REFERENCE_ENV = "prod"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENVIRONMENTS = ROOT / "environments"
DEFAULT_OUT = ROOT / "out"
DEFAULT_COMMITTED = ROOT / "templates"


@dataclass(frozen=True)
class Rendered:
    """One environment's output tree: relative path -> bytes."""

    env: Environment
    files: Mapping[str, bytes]

    def committed(self) -> dict[str, bytes]:
        """The part reviewed in git under templates/ (reference environment only)."""
        prefix = "templates/"
        return {k.removeprefix(prefix): v for k, v in self.files.items() if k.startswith(prefix)}


@cache
def lambda_packages() -> Mapping[str, bytes]:
    """Each Lambda zip by its S3 key (content-addressed); the same for every environment."""
    from trading_dr.package import build_packages

    return {package.s3_key: package.data for package in build_packages().values()}


def code_keys(packages: Mapping[str, bytes]) -> dict[str, str]:
    """Function name -> S3 key, from keys of the form lambda/<name>-<hash>.zip."""
    return {Path(key).name.rsplit("-", 1)[0]: key for key in packages}


def render_environment(env: Environment) -> Rendered:
    packages = lambda_packages()
    files = {
        f"templates/{role.value}.yaml": to_yaml(template).encode()
        for role, template in build_templates(env, code_keys(packages)).items()
    }
    # The zips keep their S3 keys as paths, so the deployer uploads out/<env>/lambda as is.
    files.update(packages)
    return Rendered(env, files)


def select_environments(directory: Path, names: Iterable[str]) -> list[Environment]:
    available = environment_names(directory)
    wanted = list(dict.fromkeys(names)) or available
    if not available:
        raise UsageError(f"no environment files in {directory}; add e.g. {directory}/prod.yaml")
    missing = [n for n in wanted if n not in available]
    if missing:
        raise UsageError(
            f"unknown environment {', '.join(missing)}; available: {', '.join(available)}"
        )
    return [load_environment(directory / f"{name}.yaml") for name in wanted]


def write_tree(target: Path, files: Mapping[str, bytes]) -> None:
    """Replace directory `target` by exactly `files`, as close to atomically as POSIX allows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        for relative, data in sorted(files.items()):
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "tree")
            os.replace(staging, target)
            shutil.rmtree(old)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write some files of a directory that holds others too: stage all, then rename each."""
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, data in sorted(files.items()):
            final = directory / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            staged.append((Path(temp_name), final))
        for temp, final in staged:
            os.replace(temp, final)
    finally:
        for leftover, _ in staged:
            leftover.unlink(missing_ok=True)


def stale_report(directory: Path, expected: Mapping[str, bytes]) -> list[str]:
    """One summary line per committed file that differs from the rendering, plus a diff head."""
    lines: list[str] = []
    for relative, data in sorted(expected.items()):
        path = directory / relative
        if not path.exists():
            lines.append(f"{path}: missing")
            continue
        current = path.read_bytes()
        if current == data:
            continue
        diff = list(
            difflib.unified_diff(
                current.decode().splitlines(),
                data.decode().splitlines(),
                f"{path} (committed)",
                f"{path} (rendered)",
                lineterm="",
            )
        )
        added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
        removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
        lines.append(f"{path}: differs (+{added} -{removed} lines)")
        lines.extend(f"    {d}" for d in diff[:40])
        if len(diff) > 40:
            lines.append(f"    ... {len(diff) - 40} more diff lines")
    return lines


def generate(
    names: Iterable[str],
    out: Path,
    committed_dir: Path | None,
    environments_dir: Path = DEFAULT_ENVIRONMENTS,
    check: bool = False,
) -> list[str]:
    """Render, then write (or with `check`, compare). Returns lines to print."""
    names = list(names)
    if check and REFERENCE_ENV not in names:
        names = [*names, REFERENCE_ENV] if names else [REFERENCE_ENV]
    rendered = [render_environment(env) for env in select_environments(environments_dir, names)]
    reference = next((r for r in rendered if r.env.name == REFERENCE_ENV), None)
    if check:
        assert reference is not None  # guaranteed above
        target = committed_dir or DEFAULT_COMMITTED
        problems = stale_report(target, reference.committed())
        if problems:
            raise StaleTemplatesError(
                "\n".join(
                    [
                        f"{target} is stale: it differs from what the code renders.",
                        *problems,
                        "fix: run `python generate.py --env prod` and commit templates/",
                    ]
                )
            )
        return [f"{target}: up to date with environments/{REFERENCE_ENV}.yaml"]
    report = []
    for item in rendered:
        write_tree(out / item.env.name, item.files)
        sizes = ", ".join(f"{Path(k).name} {len(v) / 1024:.1f} KiB" for k, v in item.files.items())
        report.append(f"{item.env.name}: {out / item.env.name} ({sizes})")
    if reference is not None and committed_dir is not None:
        write_files(committed_dir, reference.committed())
        report.append(f"{REFERENCE_ENV}: reviewed copy written to {committed_dir}")
    return report
