"""The stricter local AWS refuses what a real account refuses, so the deployer fails here the
way it would there: an RDS-managed master password on a global database member, and an
engine version RDS can no longer create (tests of the refusals themselves are in
tests/trading_dr/local_aws/test_refusals.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.rollout import deploy
from trading_dr.local_aws.server import LocalAws


def _managed_password(resources: dict[str, Any]) -> None:
    # The primary cluster as it was before issue 10: RDS-managed master password.
    props = resources["DbCluster"]["Properties"]
    props.pop("MasterUserPassword")
    props["ManageMasterUserPassword"] = True


def _deprecated_version(resources: dict[str, Any]) -> None:
    resources["GlobalCluster"]["Properties"]["EngineVersion"] = "16.6"


@pytest.mark.parametrize(
    ("template", "change", "stage", "error"),
    [
        pytest.param(
            "primary", _managed_password, "primary",
            "ResourceLogicalId:DbCluster, ResourceType:AWS::RDS::DBCluster, "
            "ResourceStatusReason:InvalidParameterCombination: Managing the master user "
            "password with Secrets Manager isn't supported for DB clusters that are part of "
            "an Aurora global database",
            id="managed-password-on-global-member",
        ),
        pytest.param(
            "global", _deprecated_version, "global",
            "ResourceLogicalId:GlobalCluster, ResourceType:AWS::RDS::GlobalCluster, "
            "ResourceStatusReason:InvalidParameterCombination: Cannot find version 16.6 for "
            "aurora-postgresql",
            id="deprecated-engine-version",
        ),
    ],
)  # fmt: skip
def test_deploy_fails_with_aws_error(
    local_aws: LocalAws,
    prod: Environment,
    prod_files: dict[str, bytes],
    template: str,
    change: Callable[[dict[str, Any]], None],
    stage: str,
    error: str,
) -> None:
    files = dict(prod_files)
    key = f"templates/{template}.yaml"
    data = yaml.safe_load(files[key])
    change(data["Resources"])
    files[key] = yaml.safe_dump(data, sort_keys=False).encode()

    results = deploy(make_deployment(local_aws, prod, files))

    assert (results[-1].name, results[-1].status) == (stage, "failed")
    assert any(error in reason for reason in results[-1].reasons), results[-1].reasons
