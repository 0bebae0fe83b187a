"""The `trading-dr` commands as a user runs them (click's runner, local AWS endpoint)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from tests.trading_dr.local_aws.fixtures import make_deployment, use_account
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment
from trading_dr.deploy.journal_status import journal_backlog
from trading_dr.local_aws.server import LocalAws

register_operating_commands()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_deploy_json_then_destroy_in_reverse_order(
    local_aws: LocalAws, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_account(local_aws, "111111111111", monkeypatch)  # prod's account
    runner = CliRunner()
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]

    deployed = runner.invoke(
        cli, ["deploy", *endpoint, "--output", "json", "--skip-delegation-check"]
    )
    assert deployed.exit_code == 0, deployed.output
    stages = json.loads(deployed.stdout[deployed.stdout.index("{") :])["stages"]
    assert [s["status"] for s in stages] == ["created"] * 3 + [
        "unchanged",
        "created",
        "created",
        "updated",
    ]
    assert set(stages[2]) == {"name", "status", "operation_id", "duration_s", "outputs"}

    # The Aurora clusters' deletion protection would fail the delete (INOPERABLE): refused
    # up front with both documented ways out.
    refused = runner.invoke(cli, ["destroy", *endpoint, "--yes"])
    assert refused.exit_code == 2
    assert "secondary: DbCluster (AWS::RDS::DBCluster) DeletionProtection true" in refused.stderr
    assert "fix: --retain-stacks" in refused.stderr
    assert "--lift-deletion-protection" in refused.stderr
    mistyped = runner.invoke(
        cli, ["destroy", *endpoint, "--lift-deletion-protection"], input="dev\n"
    )
    assert mistyped.exit_code == 2
    assert "'dev' is not 'prod'" in mistyped.stderr

    destroyed = runner.invoke(
        cli, ["destroy", *endpoint, "--lift-deletion-protection"], input="prod\n"
    )
    assert destroyed.exit_code == 0, destroyed.output
    assert "Type the environment name (prod) to confirm" in destroyed.stderr
    order = [line.split()[0] for line in destroyed.stdout.splitlines() if " deleted " in line]
    assert order[-4:] == ["observer", "secondary", "primary", "global"]
    assert "retained by DeletionPolicy" in destroyed.stdout
    assert "destroy: 4 stage(s), 4 changed" in destroyed.stdout
    assert "  role AWSCloudFormationStackSetAdministrationRole" in destroyed.stdout

    status = runner.invoke(cli, ["status", *endpoint, "--output", "json"])
    assert {row["status"] for row in json.loads(status.stdout)["stack_sets"]} == {"ABSENT"}


def test_unreachable_endpoint_is_a_clear_error(aws_env: None) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["status", "--endpoint-url", url])
    assert result.exit_code == 1
    assert "cannot reach the AWS endpoint" in result.stderr


def test_missing_credentials_is_a_clear_error(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    result = CliRunner().invoke(cli, ["status", "--endpoint-url", local_aws.endpoint_url])
    assert result.exit_code == 2
    assert "no usable AWS credentials" in result.stderr


def test_failed_migration_exits_1_with_the_functions_message(
    local_aws: LocalAws, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a migrate function whose status fails (an applied file was edited)
    edited = "0001_trades was edited after it was applied; add a new migration instead"
    local_aws.queue_lambda_answers(
        "111111111111", "us-east-1", {"errorMessage": edited, "errorType": "MigrationError"}
    )

    # WHEN the rollout runs
    use_account(local_aws, "111111111111", monkeypatch)
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]
    result = CliRunner().invoke(cli, ["deploy", *endpoint, "--skip-delegation-check"])

    # THEN it stops after the primary stage with exit 1 and the function's message
    assert result.exit_code == 1, result.output
    assert "stage migrate failed; the rollout stopped" in result.stderr
    assert f"trading-prod-migrate (status): {edited}" in result.stderr
    stages = [line.split()[:2] for line in result.stdout.splitlines() if line[:1].isalpha()]
    assert stages[-2:] == [["primary", "created"], ["migrate", "failed"]], result.stdout


def test_destroy_with_nothing_deployed_says_so_and_names_bootstrap_left(
    local_aws: LocalAws, aws_env: None
) -> None:
    runner = CliRunner()
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]

    empty = runner.invoke(cli, ["destroy", *endpoint])  # no --yes needed: nothing to delete
    assert empty.exit_code == 0, empty.output
    assert empty.stdout.splitlines() == ["destroy: nothing deployed for prod (no stack set exists)"]

    assert runner.invoke(cli, ["bootstrap", *endpoint]).exit_code == 0
    after_bootstrap = runner.invoke(cli, ["destroy", *endpoint, "--yes"])
    assert after_bootstrap.exit_code == 0, after_bootstrap.output
    lines = after_bootstrap.stdout.splitlines()
    assert lines[0] == "destroy: nothing deployed for prod (no stack set exists)"
    assert "changed" not in after_bootstrap.stdout
    assert lines[1].startswith("bootstrap resources left in place")
    assert lines[2:] == [
        "  role AWSCloudFormationStackSetAdministrationRole",
        "  role AWSCloudFormationStackSetExecutionRole in 111111111111",
        "  bucket trading-prod-artifacts-111111111111-us-east-1",
        "  bucket trading-prod-artifacts-111111111111-us-east-2",
    ]

    as_json = json.loads(runner.invoke(cli, ["destroy", *endpoint, "--output", "json"]).stdout)
    assert as_json["nothing_deployed"] is True
    assert len(as_json["bootstrap_left"]) == 4


def test_dev_deploys_locally_with_its_existing_hosted_zone(
    background_state: Path, aws_env: None
) -> None:
    # GIVEN dev names an existing zone (Z0DEVEXAMPLE12345) that no rollout creates
    # WHEN it is deployed on the background local AWS (in this test's state directory)
    result = CliRunner().invoke(cli, ["deploy", "--env", "dev", "--local", "--output", "json"])

    # THEN every stage succeeds: the local AWS provided the zone under that id
    assert result.exit_code == 0, result.output
    stages = json.loads(result.stdout[result.stdout.index("{") :])["stages"]
    assert [s["status"] for s in stages] == ["created"] * 3 + [
        "unchanged",
        "created",
        "created",
        "updated",
    ]
    assert stages[1]["outputs"]["HostedZoneId"] == "Z0DEVEXAMPLE12345"


def test_status_shows_each_regions_unreconciled_journal_entries(
    local_aws: LocalAws, aws_env: None
) -> None:
    # GIVEN the primary's reconciler last saw 3 accepted trades not stored, the oldest
    # 42 s old, and the secondary's has published nothing (in the target account)
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=local_aws.endpoint_url)
    credentials = sts.assume_role(
        RoleArn="arn:aws:iam::111111111111:role/reconciler", RoleSessionName="test"
    )["Credentials"]
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    dimensions = [
        {"Name": "service", "Value": "trade-reconciler"},
        {"Name": "Environment", "Value": "prod"},
    ]
    cloudwatch.put_metric_data(
        Namespace="TradingDR",
        MetricData=[
            {"MetricName": "JournalUnreconciled", "Dimensions": dimensions, "Value": 3},
            {
                "MetricName": "JournalOldestUnreconciledAgeSeconds",
                "Dimensions": dimensions,
                "Value": 42.0,
            },
        ],
    )
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]

    # WHEN the operator asks for the status
    text = CliRunner().invoke(cli, ["status", *endpoint])
    data = CliRunner().invoke(cli, ["status", *endpoint, "--output", "json"])

    # THEN each region is listed with its own figures
    assert text.exit_code == 0, text.output
    assert "us-east-1  3 accepted trade(s) not yet stored, oldest 42 s" in text.stdout
    assert "us-east-2  no reconciler figures in the last 5 min" in text.stdout
    journal = {row["region"]: row for row in json.loads(data.stdout)["journal"]}
    assert (journal["us-east-1"]["unreconciled"], journal["us-east-1"]["oldest_age_s"]) == (3, 42)
    assert journal["us-east-2"]["unreconciled"] is None


def test_a_figure_published_this_second_is_shown(local_aws: LocalAws, prod: Environment) -> None:
    # GIVEN the reconciler published its figures a fraction of a second ago
    now = datetime.now(UTC).replace(microsecond=900_000)
    dep = make_deployment(local_aws, prod, {})
    cloudwatch = dep.clients.client("cloudwatch", "us-east-1")
    dimensions = [
        {"Name": "service", "Value": "trade-reconciler"},
        {"Name": "Environment", "Value": "prod"},
    ]
    cloudwatch.put_metric_data(
        Namespace="TradingDR",
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions, "Value": 7, "Timestamp": now}
            for name in ("JournalUnreconciled", "JournalOldestUnreconciledAgeSeconds")
        ],
    )

    # WHEN the status is read within the same second
    rows = journal_backlog(dep, ("us-east-1",), now=now + timedelta(microseconds=50_000))

    # THEN the figures are there
    assert [(r["unreconciled"], r["oldest_age_s"]) for r in rows] == [(7, 7.0)]
