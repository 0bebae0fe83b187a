"""What a rendered tree is: `out/<env>/manifest.json` names its environment and source revision.

Every `trading-dr` command that takes a rendered tree (`--from`) checks it against `--env`
before it reads or writes anything in AWS, so dev templates never reach prod stack sets.
The revision is the git commit checked out when the tree was rendered, read from the
repository's files rather than by running git (generate.py's start-up time matters);
uncommitted changes are not detected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trading_dr import __version__
from trading_dr.errors import UsageError

MANIFEST = "manifest.json"
ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Manifest:
    environment: str
    source_revision: str
    generator_version: str

    def to_bytes(self) -> bytes:
        body = {
            "environment": self.environment,
            "source_revision": self.source_revision,
            "generator_version": self.generator_version,
        }
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def _git_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot_git.read_text().strip()
        if text.startswith("gitdir:"):
            path = Path(text.removeprefix("gitdir:").strip())
            return path if path.is_absolute() else (root / path).resolve()
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    for base in (git_dir, common):
        if (base / ref).is_file():
            return (base / ref).read_text().strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def source_revision(root: Path = ROOT) -> str:
    """The commit checked out in `root` (a 40-hex sha), or "unknown" outside a git checkout."""
    try:
        git_dir = _git_dir(root)
        if git_dir is None:
            return UNKNOWN
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head  # detached HEAD holds the sha itself
        return _resolve_ref(git_dir, head.removeprefix("ref:").strip()) or UNKNOWN
    except OSError:
        return UNKNOWN


def manifest_for(environment: str) -> Manifest:
    return Manifest(environment, source_revision(), __version__)


def check_tree(files: Mapping[str, bytes], directory: Path, env_name: str) -> Manifest:
    """The tree's manifest if it was rendered for `env_name`; else a UsageError (exit 2)."""
    render = f"python generate.py --env {env_name}"
    if MANIFEST not in files:
        raise UsageError(
            f"{directory} has no {MANIFEST}, so its environment is unknown; "
            f"fix: render it again with `{render}` (it writes out/{env_name}/{MANIFEST})"
        )
    try:
        body = json.loads(files[MANIFEST])
        manifest = Manifest(
            str(body["environment"]), str(body["source_revision"]), str(body["generator_version"])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{directory / MANIFEST} is not a manifest the generator wrote ({exc}); "
            f"fix: render it again with `{render}`"
        ) from exc
    if manifest.environment != env_name:
        raise UsageError(
            f"{directory} was rendered for environment {manifest.environment}, not {env_name}; "
            f"fix: pass --env {manifest.environment}, or render {env_name} with `{render}` "
            f"and use --from out/{env_name}"
        )
    return manifest
