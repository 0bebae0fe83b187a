"""The generate.py contract tests and tooling rely on, run as a real process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.templates import ROOT, rendered
from trading_dr import generator


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
        assert sorted(files) == ["global.yaml", "primary.yaml", "secondary.yaml"]
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


def test_failed_write_keeps_previous_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "prod"
    generator.write_tree(target, {"templates/a.yaml": b"old"})
    real_write = Path.write_bytes
    calls = []

    def failing_write(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(OSError, match="No space left"):
        generator.write_tree(target, {"templates/a.yaml": b"new", "templates/b.yaml": b"new"})
    assert snapshot(target) == {"templates/a.yaml": b"old"}
    assert [p.name for p in tmp_path.iterdir()] == ["prod"], "staging removed"
