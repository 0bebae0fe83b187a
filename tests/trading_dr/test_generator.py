"""The generate.py contract tests and tooling rely on, run as a real process."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.templates import ROOT, rendered


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


@pytest.fixture
def envs_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "environments"
    shutil.copytree(ROOT / "environments", directory)
    return directory


def test_committed_templates_match_the_code() -> None:
    """Golden: templates/ is what the code renders for prod (`python generate.py --env prod`)."""
    expected = rendered("prod").committed()
    actual = {name: (ROOT / "templates" / name).read_bytes() for name in expected}
    stale = [name for name in expected if actual[name] != expected[name]]
    assert not stale, f"templates/ is stale ({stale}); run `python generate.py --env prod`"


def test_default_renders_every_environment(tmp_path: Path) -> None:
    result = run("--out", tmp_path / "out", "--templates-dir", tmp_path / "templates")
    assert result.returncode == 0, result.stderr
    for env in ("prod", "dev"):
        files = snapshot(tmp_path / "out" / env / "templates")
        assert sorted(files) == ["global.yaml", "observer.yaml", "primary.yaml", "secondary.yaml"]
    reviewed = snapshot(tmp_path / "templates")
    assert {k: v for k, v in reviewed.items() if k.endswith(".yaml")} == snapshot(
        tmp_path / "out" / "prod" / "templates"
    )
    assert reviewed.keys() >= {"audit/REPORT.md", "audit/architecture.svg"}, "the audit pack too"
    assert "prod:" in result.stdout
    assert "dev:" in result.stdout


def test_non_reference_env_leaves_templates_dir_alone(tmp_path: Path) -> None:
    result = run("--env", "dev", "--out", tmp_path / "out", "--templates-dir", tmp_path / "t")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "dev" / "templates" / "primary.yaml").exists()
    assert not (tmp_path / "out" / "prod").exists()
    assert not (tmp_path / "t").exists()


def test_config_error_exits_2_and_writes_nothing(tmp_path: Path, envs_dir: Path) -> None:
    # GIVEN a previous good output
    out = tmp_path / "out"
    assert run("--out", out, "--templates-dir", tmp_path / "t").returncode == 0
    before, before_t = snapshot(out), snapshot(tmp_path / "t")
    # WHEN an environment file turns bad
    dev = envs_dir / "dev.yaml"
    dev.write_text(dev.read_text().replace("suffix: dev", "suffix: Dev_1"))
    result = run("--environments-dir", envs_dir, "--out", out, "--templates-dir", tmp_path / "t")
    # THEN exit 2, the message names file, field and fix, and nothing changed on disk
    assert result.returncode == 2
    assert f"{dev}: suffix: 'Dev_1' cannot be used in S3 bucket names; fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(out) == before
    assert snapshot(tmp_path / "t") == before_t
    assert sorted(p.name for p in out.iterdir()) == ["dev", "prod"], "no staging left behind"


def test_unknown_environment_is_a_usage_error(tmp_path: Path) -> None:
    result = run("--env", "staging", "--out", tmp_path)
    assert result.returncode == 2
    assert "unknown environment staging; available: dev, prod" in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--env", "staging", "--out", tmp_path, "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_check_passes_on_current_and_fails_on_stale(tmp_path: Path) -> None:
    committed = tmp_path / "templates"
    assert (
        run("--env", "prod", "--out", tmp_path / "out", "--templates-dir", committed).returncode
        == 0
    )
    assert run("--check", "--templates-dir", committed).returncode == 0

    primary = committed / "primary.yaml"
    primary.write_text(
        primary.read_text().replace("EnableKeyRotation: true", "EnableKeyRotation: false", 1)
    )
    (committed / "global.yaml").unlink()
    before = snapshot(committed)
    result = run("--check", "--templates-dir", committed, "--out", tmp_path / "never")

    assert result.returncode == 1
    assert f"{primary}: differs (+1 -1 lines)" in result.stderr
    assert "-      EnableKeyRotation: false" in result.stderr
    assert f"{committed / 'global.yaml'}: missing" in result.stderr
    assert "python generate.py --env prod" in result.stderr
    assert snapshot(committed) == before, "--check writes nothing"
    assert not (tmp_path / "never").exists()


def test_check_reports_a_stray_file(tmp_path: Path) -> None:
    committed = tmp_path / "templates"
    assert (
        run("--env", "prod", "--out", tmp_path / "out", "--templates-dir", committed).returncode
        == 0
    )
    (committed / "global-old.yaml").write_text("Resources: {}\n")

    result = run("--check", "--templates-dir", committed)

    assert result.returncode == 1
    assert f"{committed / 'global-old.yaml'}: not rendered by the generator (stray file)" in (
        result.stderr
    )
    rewritten = run("--env", "prod", "--out", tmp_path / "out", "--templates-dir", committed)
    assert f"warning: {committed / 'global-old.yaml'} is not rendered" in rewritten.stdout


def test_the_tree_carries_its_environment_and_revision(tmp_path: Path) -> None:
    assert run("--env", "dev", "--out", tmp_path).returncode == 0
    manifest = json.loads((tmp_path / "dev" / "manifest.json").read_text())
    assert manifest["environment"] == "dev"
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", manifest["source_revision"])


@pytest.mark.parametrize("option", ["--out", "--templates-dir"])
def test_an_unwritable_output_is_one_line_and_writes_nothing(tmp_path: Path, option: str) -> None:
    # GIVEN a previous good output in both trees
    out, committed = tmp_path / "out", tmp_path / "templates"
    assert run("--env", "prod", "--out", out, "--templates-dir", committed).returncode == 0
    before = snapshot(tmp_path)
    # WHEN one of them cannot be written (below a regular file: root cannot either)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    paths = {"--out": out, "--templates-dir": committed, option: blocker / "x"}
    result = run("--env", "prod", *[str(item) for pair in paths.items() for item in pair])
    # THEN exit 2, one line naming the option and the fix; neither tree changed
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {option}: cannot write {blocker}")
    assert f"; fix: pass a writable directory as {option}" in result.stderr
    assert snapshot(tmp_path) == {**before, "a-file": b""}


def test_out_under_proc_is_one_line(tmp_path: Path) -> None:
    result = run("--env", "dev", "--out", "/proc/x", "--templates-dir", tmp_path / "t")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --out: cannot write /proc/x")
    assert result.stderr.count("\n") == 1


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    out, committed = tmp_path / "out", tmp_path / "templates"
    result = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$0" "$@"', sys.executable, str(ROOT / "generate.py"),
         "--env", "prod", "--out", str(out), "--templates-dir", str(committed)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    modes = {
        path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in [out, *out.rglob("*"), committed, *committed.rglob("*")]
    }
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o755 if (tmp_path / name).is_dir() else 0o644)
    }
    assert not wrong, wrong
