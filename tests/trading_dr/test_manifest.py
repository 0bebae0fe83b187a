"""A rendered tree names its environment and revision; commands refuse another --env
(issue 14 item 1) before any AWS call."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from trading_dr.cli import cli, register_operating_commands
from trading_dr.generator import generate
from trading_dr.manifest import MANIFEST, source_revision

register_operating_commands()
ROOT = Path(__file__).resolve().parents[2]
# Nothing listens here: a command that got past the check would fail with exit 1.
NOWHERE = ["--endpoint-url", "http://127.0.0.1:9"]


@pytest.fixture(scope="module")
def dev_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    generate(["dev"], out, None)
    return out / "dev"


def test_source_revision_is_the_checked_out_commit() -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert source_revision(ROOT) == head


def test_source_revision_outside_git_is_unknown(tmp_path: Path) -> None:
    assert source_revision(tmp_path) == "unknown"


@pytest.mark.parametrize(
    "command", ["deploy", "plan", "status", "diff", "drift", "destroy", "bootstrap", "failover"]
)
def test_every_command_refuses_a_tree_of_another_environment(
    dev_tree: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    result = CliRunner().invoke(cli, [command, "--from", str(dev_tree), *NOWHERE])

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {dev_tree} was rendered for environment dev, not prod; fix: pass --env dev, "
        "or render prod with `python generate.py --env prod` and use --from out/prod\n"
    )


def test_a_tree_without_manifest_is_refused(dev_tree: Path, tmp_path: Path) -> None:
    tree = tmp_path / "dev"
    for path in dev_tree.rglob("*.yaml"):
        target = tree / path.relative_to(dev_tree)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    result = CliRunner().invoke(cli, ["plan", "--env", "dev", "--from", str(tree), *NOWHERE])

    assert result.exit_code == 2
    assert f"{tree} has no {MANIFEST}" in result.stderr
    assert "fix: render it again with `python generate.py --env dev`" in result.stderr


def test_templates_of_another_environment_are_refused_even_with_a_matching_manifest(
    dev_tree: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "prod"
    (tree / "templates").mkdir(parents=True)
    (tree / MANIFEST).write_bytes((dev_tree / MANIFEST).read_bytes().replace(b"dev", b"prod"))
    (tree / "templates" / "global.yaml").write_bytes(
        (dev_tree / "templates" / "global.yaml").read_bytes()
    )
    result = CliRunner().invoke(cli, ["plan", "--from", str(tree), *NOWHERE])

    assert result.exit_code == 2
    assert "global.yaml was rendered for suffix 'dev', but prod uses 'prod'" in result.stderr
