"""`trading-dr failover` against what `trading-dr deploy` put into the local AWS (issue 11).

Nothing is built by hand here: the environment is deployed through StackSets from the
rendered templates, and the failover command runs the deployed workflow, whose tasks
call the deployed validator (its real code), Aurora's global switchover/failover and SSM
in the environment's account.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from tests.trading_dr.local_aws.fixtures import use_account
from trading_dr.cli import cli, register_operating_commands
from trading_dr.local_aws import aurora_global, faults, replication_lag
from trading_dr.local_aws.live import Live
from trading_dr.local_aws.server import LocalAws
from trading_dr.resources.failover import recovery

register_operating_commands()

ACCOUNT = "111111111111"  # prod's
PRIMARY, SECONDARY = "us-east-1", "us-east-2"
GLOBAL_ID = "trading-prod-global"
FENCE = "/trading/prod/secondary/failover/fence"


def cluster_arn(region: str) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:trading-prod-db-{region}"


def run(server: LocalAws, *args: str) -> Result:
    command = [*args, "--endpoint-url", server.endpoint_url, "--env", "prod"]
    return CliRunner().invoke(cli, command)


def client(server: LocalAws, service: str, region: str) -> Any:
    # A new session reads the exported credentials (the environment's account's); boto3's
    # default session keeps whatever an earlier test exported.
    return boto3.Session().client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=server.endpoint_url,
    )


@pytest.fixture
def deployed(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """GIVEN prod deployed into the local AWS by the deployer, as a user does it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    use_account(local_aws, ACCOUNT, monkeypatch)
    result = run(local_aws, "deploy", "--skip-delegation-check")
    assert result.exit_code == 0, result.output
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(PRIMARY)
    return local_aws


def test_drill_switches_over_and_back_through_the_deployed_workflow(deployed: LocalAws) -> None:
    # WHEN a drill moves the writer to the secondary
    drill = run(deployed, "failover", "--drill")
    # THEN the deployed workflow succeeded: writer moved, the old primary fenced
    assert drill.exit_code == 0, drill.output
    assert "failover (planned) SUCCEEDED" in drill.stdout
    assert "us-east-1 is fenced" in drill.stdout
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(SECONDARY)
    ssm = client(deployed, "ssm", SECONDARY)
    assert ssm.get_parameter(Name=FENCE)["Parameter"]["Value"] == recovery.FENCE_SET
    # and the validator ran its real code: it published its readiness report
    metrics = client(deployed, "cloudwatch", SECONDARY).list_metrics(Namespace="TradingDR")
    assert any(m["MetricName"].startswith("Readiness") for m in metrics["Metrics"]), metrics

    # WHEN the fence is released and a drill moves the writer back
    release = run(deployed, "failover", "--release")
    back = run(deployed, "failover", "--drill", "--to", "primary")
    # THEN both succeed and the writer is the primary again
    assert release.exit_code == 0, release.output
    assert ssm.get_parameter(Name=FENCE)["Parameter"]["Value"] == recovery.FENCE_RELEASED
    assert back.exit_code == 0, back.output
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(PRIMARY)

    # WHEN a drill asks for the region that already has the writer: nothing changes
    again = run(deployed, "failover", "--drill", "--to", "primary")
    assert again.exit_code == 0, again.output
    assert "no change: the writer is already in us-east-1" in again.stdout


def test_unplanned_failover_with_the_primary_region_down_calls_nothing_there(
    deployed: LocalAws,
) -> None:
    # GIVEN us-east-1 answers nobody
    faults.region_down(PRIMARY)
    # WHEN the operator fails over (the command, the workflow's tasks, the validator)
    result = run(deployed, "failover", "--yes", "--output", "json")
    # THEN it succeeded from us-east-2 alone
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[result.stdout.index("{") :])
    assert (body["status"], body["mode"], body["region"]) == ("SUCCEEDED", "unplanned", SECONDARY)
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(SECONDARY)
    assert faults.refused_calls() == []


def test_lag_above_the_rpo_target_is_refused_unless_accepted(deployed: LocalAws) -> None:
    # GIVEN the secondary last reported 90 s of replication lag (RPO target: 60 s)
    faults.set_replication_lag_ms(90_000)
    assert replication_lag.publish(ACCOUNT) == [(cluster_arn(SECONDARY), 90_000)]
    # WHEN an unplanned failover is asked for without accepting the loss
    refused = run(deployed, "failover", "--yes")
    # THEN the validator refused it and nothing moved
    assert refused.exit_code == 1, refused.output
    assert "ValidateReadiness" in refused.stderr
    assert "last_known_lag" in refused.stderr
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(PRIMARY)
    # WHEN the operator accepts the loss explicitly
    accepted = run(deployed, "failover", "--yes", "--accept-data-loss")
    # THEN the failover goes ahead
    assert accepted.exit_code == 0, accepted.output
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(SECONDARY)


def test_after_a_drill_dns_answers_the_secondary_and_the_fence_holds(
    deployed: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Route 53's answers (route53_answers.py) from the fence metric the workflow publishes:
    CloudWatch's clock is set, not waited for (the fence alarm's period is a minute)."""
    from datetime import UTC, datetime, timedelta

    from moto.cloudwatch import models as cloudwatch_models

    # Half a minute into a minute that is already over: the validator's own (real) clock
    # still sees what CloudWatch stamps.
    start = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=2)
    clock = {"at": start}
    monkeypatch.setattr(cloudwatch_models, "utcnow", lambda: clock["at"].replace(tzinfo=None))
    name = "dns api.trading.example.com (account 111111111111) ->"

    def dns_after(seconds: int) -> str:
        clock["at"] = start + timedelta(seconds=seconds)
        status = run(deployed, "status")
        assert status.exit_code == 0, status.output
        (line,) = [row for row in status.stdout.splitlines() if row.startswith(name)]
        return line.removeprefix(name).split()[0]

    assert dns_after(0) == PRIMARY
    # WHEN a drill moves the writer to the secondary (it publishes the fence metric)
    drill = run(deployed, "failover", "--drill")
    assert drill.exit_code == 0, drill.output
    # THEN the fence counts once its minute is over, and DNS answers the secondary
    assert dns_after(20) == PRIMARY
    assert dns_after(60) == SECONDARY
    # AND with no fence data since (nothing republishes it locally) it holds: LastKnownStatus
    assert dns_after(600) == SECONDARY
    # WHEN the fence is released and the writer moved back
    assert run(deployed, "failover", "--release").exit_code == 0
    assert run(deployed, "failover", "--drill", "--to", "primary").exit_code == 0
    # THEN DNS answers the primary again once the release's minute is over
    assert dns_after(660) == PRIMARY


def test_after_an_outage_failover_dns_stays_on_the_secondary_when_the_primary_returns(
    deployed: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The region-outage case through Route 53's answers (asked in-process: the control
    plane of Route 53 is in the region that is down)."""
    from datetime import UTC, datetime, timedelta

    from moto.cloudwatch import models as cloudwatch_models
    from moto.route53.models import route53_backends

    from trading_dr.local_aws.route53_answers import answer

    start = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=2)
    clock = {"at": start}
    monkeypatch.setattr(cloudwatch_models, "utcnow", lambda: clock["at"].replace(tzinfo=None))
    (zone,) = [z.id for z in route53_backends[ACCOUNT]["aws"].zones.values()]

    def dns_after(seconds: int) -> str:
        clock["at"] = start + timedelta(seconds=seconds)
        code, data = answer(ACCOUNT, zone, "api.trading.example.com", "CNAME")
        assert code == "NOERROR"
        (target,) = data
        return target.split(".execute-api.")[1].split(".")[0]

    # GIVEN us-east-1 down: its API stops answering Route 53's checker at once
    faults.region_down(PRIMARY)
    assert dns_after(0) == SECONDARY
    # WHEN the operator fails over, and later us-east-1 comes back
    assert run(deployed, "failover", "--yes").exit_code == 0
    faults.region_up(PRIMARY)
    # THEN the fence keeps DNS on the secondary, 10 minutes on, without new fence data
    assert dns_after(60) == SECONDARY
    assert dns_after(600) == SECONDARY


PROBES = {  # what each vantage point publishes about us-east-1 into us-east-2
    "validator": ("TradingDR", "PeerHealthy", {"Environment": "prod", "PeerRegion": PRIMARY}),
    "observer": (
        "TradingDR/Observer",
        "RegionAlive",
        {"Environment": "prod", "Region": PRIMARY, "Observer": "us-west-2"},
    ),
}


def probes_fail(server: LocalAws, vantage_points: list[str]) -> tuple[Live, datetime]:
    """The deployed alarms evaluated once (no data yet: OK), then 30 s of failed probes of
    us-east-1 from `vantage_points`; returns the evaluator and the time to evaluate at."""
    live = Live(invoke=lambda *_: None)  # the probes' data is published here instead
    wall = datetime.now(UTC)
    now = wall.replace(second=wall.second - wall.second % 10, microsecond=0)
    live.tick(now)
    later = now + timedelta(seconds=40)
    cloudwatch = client(server, "cloudwatch", SECONDARY)
    for vantage in vantage_points:
        namespace, metric, dimensions = PROBES[vantage]
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Value": 0.0,
                    "Timestamp": later - timedelta(seconds=seconds),
                    "StorageResolution": 1,
                }
                for seconds in (5, 15, 25)
            ],
        )
    return live, later


def finished_runs(server: LocalAws) -> list[dict[str, Any]]:
    sfn = client(server, "stepfunctions", SECONDARY)
    machine = f"arn:aws:states:{SECONDARY}:{ACCOUNT}:stateMachine:trading-prod-failover"
    runs: list[dict[str, Any]] = []
    for _ in range(200):
        runs = sfn.list_executions(stateMachineArn=machine)["executions"]
        if all(r["status"] != "RUNNING" for r in runs):
            break
        time.sleep(0.05)
    return runs


def test_an_outage_both_vantage_points_see_fails_over_by_itself(deployed: LocalAws) -> None:
    # GIVEN us-east-1 is down and both its probes have failed for 30 s
    faults.region_down(PRIMARY)
    live, at = probes_fail(deployed, ["validator", "observer"])
    # WHEN the local AWS evaluates the alarms from that data
    live.tick(at)
    # THEN the quorum alarmed, its EventBridge rule started the unplanned workflow, and the
    # workflow moved the writer, calling nothing in us-east-1
    assert live.states[(ACCOUNT, SECONDARY, "trading-prod-peer-down-quorum")] == "ALARM"
    (run_,) = finished_runs(deployed)
    assert run_["status"] == "SUCCEEDED"
    sfn = client(deployed, "stepfunctions", SECONDARY)
    started = sfn.describe_execution(executionArn=run_["executionArn"])["input"]
    assert json.loads(started)["trigger"] == "peer-down-quorum-alarm"
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(SECONDARY)
    assert faults.refused_calls() == []


def test_one_vantage_point_alone_pages_and_fails_nothing_over(deployed: LocalAws) -> None:
    # GIVEN a partition: only the secondary's own probe of us-east-1 fails
    live, at = probes_fail(deployed, ["validator"])
    # WHEN the local AWS evaluates the alarms
    live.tick(at)
    # THEN the one-vantage-point alarm pages; no workflow runs; the writer stays
    states = {k[2]: v for k, v in live.states.items() if k[1] == SECONDARY}
    assert states["trading-prod-peer-down-one-vantage-point"] == "ALARM"
    assert states["trading-prod-peer-down-quorum"] == "OK"
    assert finished_runs(deployed) == []
    assert aurora_global.writer_arn(ACCOUNT, GLOBAL_ID) == cluster_arn(PRIMARY)
