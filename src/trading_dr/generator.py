"""Render environments to files and write them atomically (behind `python generate.py`).

Everything is rendered in memory first, so a config or build error writes nothing; then
`output.write_all` stages every tree (out/<env> and templates/) and swaps them in together,
so a failure part-way leaves the previous output of both intact.
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from trading_dr.config import Environment, Role, environment_names, load_environment
from trading_dr.errors import StaleTemplatesError, UsageError
from trading_dr.manifest import MANIFEST, manifest_for
from trading_dr.output import Target, write_all

REFERENCE_ENV = "prod"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENVIRONMENTS = ROOT / "environments"
DEFAULT_OUT = ROOT / "out"
DEFAULT_COMMITTED = ROOT / "templates"
AUDIT_DIR = "audit/"
# Rendered diagrams by content hash: dot is most of the pack's cost (see audit/graphviz.py).
DIAGRAM_CACHE = DEFAULT_OUT / ".cache" / "diagrams"
# Templates cfn-lint and the rules pack found clean, by content hash (see trading_dr.lint).
LINT_CACHE = DEFAULT_OUT / ".cache" / "lint"


@dataclass(frozen=True)
class Rendered:
    """One environment's output tree: relative path -> bytes."""

    env: Environment
    files: Mapping[str, bytes]
    # With --scan, the pack in `files` holds scanner results of this machine's run; the
    # reviewed copy keeps the scan-free pack so `--check` does not depend on scanners.
    reviewed_audit: Mapping[str, bytes] | None = None

    def committed(self) -> dict[str, bytes]:
        """The part reviewed in git under templates/ (reference environment only): the
        templates, and the audit pack under templates/audit/ so a review shows its changes."""
        prefix = "templates/"
        reviewed = {
            k.removeprefix(prefix): v for k, v in self.files.items() if k.startswith(prefix)
        }
        audit = self.reviewed_audit if self.reviewed_audit is not None else self.files
        reviewed.update({k: v for k, v in audit.items() if k.startswith(AUDIT_DIR)})
        return reviewed


_PACKAGES_LOCK = threading.Lock()


def lambda_packages() -> Mapping[str, bytes]:
    """Each Lambda zip by its S3 key (content-addressed); the same for every environment.
    Built once per process; a caller that arrives while another thread builds them waits."""
    with _PACKAGES_LOCK:
        return _build_lambda_packages()


@cache
def _build_lambda_packages() -> Mapping[str, bytes]:
    from trading_dr.package import build_packages

    return {package.s3_key: package.data for package in build_packages().values()}


def start_lambda_packages() -> threading.Thread:
    """Build the zips in the background: their deflate runs outside the GIL, so it overlaps
    the import of the builders (troposphere, awacs), which `render_environment` does late
    for that reason."""
    thread = threading.Thread(target=_prebuild_lambda_packages, name="lambda-zips", daemon=True)
    thread.start()
    return thread


def _prebuild_lambda_packages() -> None:
    # A failure here is not reported: the caller's own lambda_packages() builds again and
    # raises it in the main thread, where the CLI turns it into its one-line error.
    with contextlib.suppress(Exception):
        lambda_packages()


def code_keys(packages: Mapping[str, bytes]) -> dict[str, str]:
    """Function name -> S3 key, from keys of the form lambda/<name>-<hash>.zip."""
    return {Path(key).name.rsplit("-", 1)[0]: key for key in packages}


def render_environment(env: Environment, scan: bool = False) -> Rendered:
    """Templates, Lambda zips and the audit pack; `scan` runs cfn-lint and checkov for it."""
    from trading_dr.render import dump, template_dict
    from trading_dr.stacks import build_templates

    packages = lambda_packages()
    # One dict per template feeds both the YAML and the audit pack (no second rendering).
    data = {
        role: template_dict(template)
        for role, template in build_templates(env, code_keys(packages)).items()
    }
    texts = {role: dump(template) for role, template in data.items()}
    files = {f"templates/{role.value}.yaml": text.encode() for role, text in texts.items()}
    # The zips keep their S3 keys as paths, so the deployer uploads out/<env>/lambda as is.
    files.update(packages)
    files.update(_audit_pack(env, data, texts, scan=False))
    files[MANIFEST] = manifest_for(env.name).to_bytes()
    if not scan:
        return Rendered(env, files)
    reviewed = {k: v for k, v in files.items() if k.startswith(AUDIT_DIR)}
    files.update(_audit_pack(env, data, texts, scan=True))
    return Rendered(env, files, reviewed)


def _audit_pack(
    env: Environment, data: Mapping[Role, Any], texts: Mapping[Role, str], scan: bool
) -> dict[str, bytes]:
    from trading_dr.audit import build_pack
    from trading_dr.audit.scanners import run_cfn_lint, run_checkov

    scans = None
    if scan:
        regions = {role: env.region_of(role) for role in texts}
        scans = run_cfn_lint(texts, regions) + run_checkov(texts)
    pack = build_pack(env, data, scans, cache_dir=DIAGRAM_CACHE)
    return {f"{AUDIT_DIR}{name}": content for name, content in pack.items()}


def lint_rendered(item: Rendered) -> None:
    """cfn-lint's rules and the project's rules pack on each template, in its region; any
    finding fails the run before anything is written."""
    from trading_dr.lint import require_clean

    templates = {}
    for role in Role:
        text = item.files.get(f"templates/{role.value}.yaml")
        if text is not None:
            templates[f"{role.value}.yaml"] = (text.decode(), item.env.region_of(role))
    require_clean(f"environment {item.env.name}", templates, LINT_CACHE)


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


def _is_text(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def stray_files(directory: Path, expected: Mapping[str, bytes]) -> list[Path]:
    """Files under `directory` that the rendering does not produce (e.g. a renamed
    template's old copy): a reviewer would take them for part of the platform."""
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.rglob("*")
        if not path.is_dir() and path.relative_to(directory).as_posix() not in expected
    )


def stale_report(directory: Path, expected: Mapping[str, bytes]) -> list[str]:
    """One summary line per committed file that differs from the rendering, plus a diff head."""
    lines = [
        f"{path}: not rendered by the generator (stray file)"
        for path in stray_files(directory, expected)
    ]
    for relative, data in sorted(expected.items()):
        path = directory / relative
        if not path.exists():
            lines.append(f"{path}: missing")
            continue
        current = path.read_bytes()
        if current == data:
            continue
        if not _is_text(current) or not _is_text(data):
            lines.append(f"{path}: differs (binary, {len(current)} -> {len(data)} bytes)")
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
    scan: bool = False,
) -> list[str]:
    """Render, then write (or with `check`, compare). Returns lines to print.

    `scan` runs cfn-lint and checkov into the audit pack of out/ (not of templates/)."""
    names = list(names)
    if check and REFERENCE_ENV not in names:
        names = [*names, REFERENCE_ENV] if names else [REFERENCE_ENV]
    start_lambda_packages()
    environments = select_environments(environments_dir, names)
    rendered = [render_environment(env, scan=scan and not check) for env in environments]
    for item in rendered:
        lint_rendered(item)
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
                        "fix: run `python generate.py --env prod`, delete stray files "
                        "(git rm), and commit templates/",
                    ]
                )
            )
        return [f"{target}: up to date with environments/{REFERENCE_ENV}.yaml"]
    report = []
    targets = []
    for item in rendered:
        targets.append(Target(out / item.env.name, item.files, "--out"))
        sizes = ", ".join(f"{Path(k).name} {len(v) / 1024:.1f} KiB" for k, v in item.files.items())
        report.append(f"{item.env.name}: {out / item.env.name} ({sizes})")
    if reference is not None and committed_dir is not None:
        reviewed = reference.committed()
        targets.append(Target(committed_dir, reviewed, "--templates-dir", replace=False))
        report.append(f"{REFERENCE_ENV}: reviewed copy written to {committed_dir}")
        report += [
            f"warning: {path} is not rendered by the generator; fix: delete it (git rm)"
            for path in stray_files(committed_dir, reviewed)
        ]
    write_all(targets)
    return report
