"""The toolchain is the locked one: what `bash scripts/setup --dev` installed matches
requirements/dev.lock exactly, and the lock pins every tool the checks depend on."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"
CHECKOV_LOCK = ROOT / "requirements" / "checkov.lock"
TOOLS = (
    "cfn-lint", "moto", "ruff", "mypy", "pytest", "hypothesis", "boto3-stubs", "policy-sentry",
    "parliament", "pre-commit", "boto3", "botocore", "troposphere", "awacs",
)  # fmt: skip


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: '{line}' is not an exact pin"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_lock_pins_every_tool_exactly() -> None:
    pins = _pins(LOCK)
    assert not [tool for tool in TOOLS if tool not in pins]


def test_checkov_has_a_lock_of_its_own() -> None:
    assert "checkov" in _pins(CHECKOV_LOCK)


@pytest.mark.parametrize("tool", TOOLS)
def test_installed_tool_is_the_locked_version(tool: str) -> None:
    assert metadata.version(tool) == _pins(LOCK)[tool], (
        f"error: {tool} {metadata.version(tool)} is installed but the lock says "
        f"{_pins(LOCK)[tool]}; fix: bash scripts/setup --dev"
    )
