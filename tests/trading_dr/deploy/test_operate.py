"""`diff` and `drift` against one deployed prod platform (local AWS, deployed once here).

The platform is deployed as the CLI deploys it (acting from moto's default account, the
stack instances in the environment's account), so the commands run through click against
the same endpoint. Tests that change what is deployed put it back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.trading_dr.local_aws.fixtures import FAST, session, use_account
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment
from trading_dr.deploy.aws import CallCounter, Clients
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.diff import diff
from trading_dr.deploy.drift import drift
from trading_dr.deploy.progress import PlainProgress
from trading_dr.deploy.rollout import deploy
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

register_operating_commands()


def deployment(server: LocalAws, env: Environment, files: dict[str, bytes]) -> Deployment:
    clients = Clients(session(), server.endpoint_url, CallCounter(), local_account=env.accounts[0])
    return Deployment(env, files, clients, FAST, PlainProgress(io.StringIO()))


@pytest.fixture(scope="module")
def deployed(local_server: LocalAws, prod: Environment, prod_files: dict[str, bytes]) -> LocalAws:
    local_server.reset()
    results = deploy(deployment(local_server, prod, prod_files))
    assert [r.status for r in results][-1] == "updated", results[-1].reasons
    return local_server


@pytest.fixture(autouse=True)
def clean(local_server: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_account(local_server, "111111111111", monkeypatch)  # prod's account
    yield
    faults.clear()


def invoke(server: LocalAws, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--endpoint-url", server.endpoint_url, "--env", "prod"])


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# -- diff -----------------------------------------------------------------------------------


def test_diff_of_the_deployed_rendering_is_empty(deployed: LocalAws) -> None:
    result = invoke(deployed, "diff", "--fail-on-change")

    assert result.exit_code == 0, result.output
    assert "== primary (trading-prod-primary): unchanged" in result.stdout
    assert "diff: 4 stack set(s), 0 with changes" in result.stdout


def test_diff_shows_iam_then_security_group_changes_and_fails_on_change(
    deployed: LocalAws, prod_files: dict[str, bytes], tmp_path: Path
) -> None:
    primary: dict[str, Any] = yaml.safe_load(prod_files["templates/primary.yaml"])
    resources = primary["Resources"]
    policy = resources["FailoverRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    promote = next(s for s in policy["Statement"] if s.get("Sid") == "PromoteThisRegion")
    promote["Action"] = [*promote["Action"], "rds:DeleteGlobalCluster"]
    resources["DbSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"}
    ]
    del resources["LambdaEgressToDb"]
    tree = write_tree(
        tmp_path, {**prod_files, "templates/primary.yaml": yaml.safe_dump(primary).encode()}
    )

    text = invoke(deployed, "diff", "--from", str(tree), "--fail-on-change")

    assert text.exit_code == 3, text.output
    assert "changes found in: primary" in text.stderr
    out = text.stdout
    section = out[out.index("== primary") : out.index("== secondary")]
    iam, sg, res = (section.index(h) for h in ("IAM statement", "Security group", "Resources:"))
    assert iam < sg < res
    changed_row = next(line for line in section.splitlines() if "PromoteThisRegion" in line)
    assert changed_row.split()[:2] == ["~", "FailoverRole/failover-least-privilege"]
    assert "rds:DeleteGlobalCluster" in changed_row
    assert any(
        line.split()[:6] == ["+", "DbSecurityGroup", "ingress", "tcp", "5432", "0.0.0.0/0"]
        for line in section.splitlines()
    )
    assert any(
        line.split()[:6]
        == ["-", "LambdaSecurityGroup", "egress", "tcp", "5432", "sg:DbSecurityGroup"]
        for line in section.splitlines()
    )
    assert "  - LambdaEgressToDb (AWS::EC2::SecurityGroupEgress)" in section
    assert "  ~ FailoverRole (AWS::IAM::Role)" in section
    assert "== secondary (trading-prod-secondary): unchanged" in out

    as_json = invoke(deployed, "diff", "--from", str(tree), "--output", "json")
    assert as_json.exit_code == 0, as_json.output  # no --fail-on-change: reporting only
    stages = {s["name"]: s for s in json.loads(as_json.stdout)["stages"]}
    assert stages["global"]["status"] == "unchanged"
    (change,) = stages["primary"]["iam"]
    assert change["change"] == "changed"
    assert "rds:DeleteGlobalCluster" not in change["before"]["actions"]
    assert {c["change"] for c in stages["primary"]["security_groups"]} == {"added", "removed"}


def test_diff_shows_parameters_changed_behind_the_deployer(
    deployed: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = deployment(deployed, prod, prod_files)
    cfn = dep.clients.client("cloudformation", "us-east-1")
    account, bucket = prod.accounts[0], "trading-prod-artifacts-111111111111-us-east-2"

    def override(value: str) -> None:
        cfn.update_stack_instances(
            StackSetName="trading-prod-secondary",
            Accounts=[account],
            Regions=["us-east-2"],
            ParameterOverrides=[{"ParameterKey": "ArtifactBucket", "ParameterValue": value}],
        )

    override("someone-elses-bucket")
    try:
        stages = {d.name: d for d in diff(dep)}
    finally:
        override(bucket)

    (change,) = stages["secondary"].parameters
    assert change.as_json() == {
        "change": "changed",
        "account": account,
        "key": "ArtifactBucket",
        "value": bucket,
        "before": {"value": "someone-elses-bucket"},
    }
    assert not stages["secondary"].template.changed
    writes = {k: n for k, n in dep.clients.counter.writes.items() if k != "AssumeRole"}
    assert writes == {"UpdateStackInstances": 2}  # the test's own: diff only reads


# -- drift ----------------------------------------------------------------------------------


def test_drift_in_sync_waits_for_each_detection(
    deployed: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_operation_seconds(0.05)
    dep = deployment(deployed, prod, prod_files)

    results = drift(dep)

    assert [(r.name, r.status) for r in results] == [
        ("global", "IN_SYNC"),
        ("primary", "IN_SYNC"),
        ("secondary", "IN_SYNC"),
        ("observer", "IN_SYNC"),
    ]
    assert all(i.drift_status == "IN_SYNC" and i.last_check for r in results for i in r.instances)
    calls = dep.clients.counter.calls
    assert calls["DetectStackSetDrift"] == 4
    assert 3 * 2 <= calls["DescribeStackSetOperation"] <= 3 * 6  # RUNNING, then done
    assert "DescribeStackResourceDrifts" not in calls  # nothing drifted: nothing to list
    assert "running" in dep.progress.stream.getvalue()  # type: ignore[attr-defined]
    # What the local AWS reports: moto's real resources IN_SYNC, stand-ins NOT_CHECKED.
    stack_id = dep.clients.client("cloudformation", "us-east-1").list_stack_instances(
        StackSetName="trading-prod-global"
    )["Summaries"][0]["StackId"]
    target = dep.clients.client("cloudformation", "us-east-1", prod.accounts[0])
    drifts = {
        d["LogicalResourceId"]: d["StackResourceDriftStatus"]
        for d in target.describe_stack_resource_drifts(StackName=stack_id)["StackResourceDrifts"]
    }
    assert drifts["HostedZone"] == "IN_SYNC"
    assert drifts["GlobalCluster"] == "NOT_CHECKED"


def test_drift_found_lists_resources_and_fails_on_change(deployed: LocalAws) -> None:
    faults.drift_resource(
        "ConfigBucket",
        "MODIFIED",
        [
            {
                "PropertyPath": "/VersioningConfiguration/Status",
                "ExpectedValue": "Enabled",
                "ActualValue": "Suspended",
                "DifferenceType": "NOT_EQUAL",
            }
        ],
    )

    text = invoke(deployed, "drift", "--fail-on-change")

    assert text.exit_code == 3, text.output
    assert "drift found in: primary, secondary" in text.stderr
    out = text.stdout
    assert "== global (trading-prod-global): IN_SYNC" in out
    assert "    MODIFIED  ConfigBucket (AWS::S3::Bucket)" in out
    assert (
        "      NOT_EQUAL /VersioningConfiguration/Status: expected 'Enabled', actual 'Suspended'"
        in out
    )

    as_json = invoke(deployed, "drift", "--output", "json")
    assert as_json.exit_code == 0, as_json.output
    sets = {s["name"]: s for s in json.loads(as_json.stdout)["stack_sets"]}
    (instance,) = sets["secondary"]["instances"]
    assert instance["drift_status"] == "DRIFTED"
    assert [r["logical_id"] for r in instance["drifted_resources"]] == ["ConfigBucket"]
    assert sets["global"]["instances"][0]["drifted_resources"] == []


def test_diff_shows_properties_and_the_stateful_replacement_first(
    deployed: LocalAws, prod_files: dict[str, bytes], tmp_path: Path
) -> None:
    primary: dict[str, Any] = yaml.safe_load(prod_files["templates/primary.yaml"])
    cluster = primary["Resources"]["DbCluster"]["Properties"]
    cluster["BackupRetentionPeriod"] = 21
    cluster["DBClusterIdentifier"] = "trading-prod-db2-us-east-1"
    tree = write_tree(
        tmp_path, {**prod_files, "templates/primary.yaml": yaml.safe_dump(primary).encode()}
    )

    text = invoke(deployed, "diff", "--from", str(tree)).stdout

    section = text[text.index("== primary") : text.index("== secondary")].splitlines()
    assert section[1:3] == [
        "Replacements (CloudFormation creates a new resource, then deletes the old):",
        "  !! DbCluster (AWS::RDS::DBCluster): STATEFUL, replaced by DBClusterIdentifier; "
        "UpdateReplacePolicy Snapshot: the old one is snapshotted, then deleted",
    ]
    assert "  ~ DbCluster (AWS::RDS::DBCluster) [replacement]" in section
    assert "      BackupRetentionPeriod: 14 -> 21" in section
    assert (
        "      DBClusterIdentifier: trading-prod-db-us-east-1 -> trading-prod-db2-us-east-1"
        "  [replaces]"
    ) in section
