"""generate.py's lint gate: cfn-lint's rules plus the rules pack on every template; a finding
fails the run before anything is written; a clean result is cached by content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trading_dr import lint
from trading_dr.errors import OperationFailedError
from trading_dr.generator import generate

ROOT = Path(__file__).resolve().parents[2]
BAD = json.dumps(
    {
        "Resources": {
            "Db": {
                "Type": "AWS::RDS::DBCluster",
                "DeletionPolicy": "Snapshot",
                "UpdateReplacePolicy": "Snapshot",
                "Properties": {
                    "Engine": "aurora-postgresql",
                    "EngineVersion": "16.11",
                    "GlobalClusterIdentifier": "g",
                    "BackupRetentionPeriod": 7,
                    "ManageMasterUserPassword": True,
                    "MasterUsername": "admin",
                },
            }
        }
    }
)
CLEAN = json.dumps(
    {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/k"}}
        }
    }
)


def test_a_finding_fails_with_every_finding_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(OperationFailedError) as caught:
        lint.require_clean("a test", {"bad.json": (BAD, "us-east-1")}, tmp_path)
    message = str(caught.value)
    assert "bad.json: [E9001:" in message
    assert "fix:" in message
    assert not list(tmp_path.iterdir()), "a failing template is not remembered"


def test_a_clean_template_is_linted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lint.require_clean("a test", {"clean.json": (CLEAN, "us-east-1")}, tmp_path)
    assert len(list(tmp_path.iterdir())) == 1

    def must_not_run(text: str, region: str) -> list[str]:
        raise AssertionError("linted again although nothing changed")

    monkeypatch.setattr(lint, "lint_template", must_not_run)
    lint.require_clean("a test", {"clean.json": (CLEAN, "us-east-1")}, tmp_path)
    with pytest.raises(AssertionError):  # another region is another verdict
        lint.require_clean("a test", {"clean.json": (CLEAN, "us-east-2")}, tmp_path)


def test_generate_writes_nothing_when_a_template_has_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lint, "lint_template", lambda text, region: ["[E9999: injected] x"])
    monkeypatch.setattr("trading_dr.generator.LINT_CACHE", tmp_path / "cache")
    out = tmp_path / "out"
    with pytest.raises(OperationFailedError, match=r"E9999"):
        generate(["dev"], out, None, ROOT / "environments")
    assert not out.exists()
