"""The rollout against the local AWS (moto server + extension) with the real prod templates.

Proves: order, outputs passed on as parameters, the link stage, the migrate step,
read-only re-runs, failure handling and resume, retries, TemplateURL. Not proved (the
local AWS does not model it): real resource behaviour, timing, cross-region replication,
the migrations themselves (the local migrate function only answers; tests/lambda_src/migrate
runs them against PostgreSQL).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import yaml

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.config_sections import DeploymentSettings
from trading_dr.deploy.aws import STATUS_INVOKE
from trading_dr.deploy.rollout import deploy, plan
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws


def stack_parameters(dep: Any, stack_set: str, region: str) -> dict[str, str]:
    cfn = dep.clients.client("cloudformation", "us-east-1")
    summary = cfn.list_stack_instances(StackSetName=stack_set)["Summaries"][0]
    target = dep.clients.client("cloudformation", region, summary["Account"])
    stack = target.describe_stacks(StackName=summary["StackId"])["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def test_full_rollout_in_order_passes_outputs_and_links(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = make_deployment(local_aws, prod, prod_files)
    writes: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name.startswith(("Create", "Update")):
            writes.append((model.name, params["StackSetName"].removeprefix("trading-prod-")))

    cfn = dep.clients.client("cloudformation", "us-east-1")
    cfn.meta.events.register("provide-client-params.cloudformation.*", record)
    results = deploy(dep)

    assert writes == [
        ("CreateStackSet", "global"),
        ("CreateStackInstances", "global"),
        ("CreateStackSet", "primary"),
        ("CreateStackInstances", "primary"),
        ("CreateStackSet", "secondary"),
        ("CreateStackInstances", "secondary"),
        ("CreateStackSet", "observer"),
        ("CreateStackInstances", "observer"),
        ("UpdateStackInstances", "primary"),
    ]
    assert [(r.name, r.status) for r in results] == [
        ("bootstrap", "created"),
        ("global", "created"),
        ("primary", "created"),
        ("migrate", "unchanged"),  # the local migrate function reports nothing pending
        ("secondary", "created"),
        ("observer", "created"),
        ("link", "updated"),
    ]
    assert dep.clients.counter.calls[STATUS_INVOKE] == 1
    assert "Invoke" not in dep.clients.counter.calls
    by_name = {r.name: r for r in results}
    glob, primary, secondary = by_name["global"], by_name["primary"], by_name["secondary"]
    # Outputs of the global stage arrive as parameters of the regional stacks.
    deployed_primary = stack_parameters(dep, "trading-prod-primary", "us-east-1")
    deployed_secondary = stack_parameters(dep, "trading-prod-secondary", "us-east-2")
    for name in ("GlobalClusterIdentifier", "HostedZoneId", "SessionsTableName"):
        if name in deployed_primary:
            assert deployed_primary[name] == glob.outputs[name]
    assert deployed_primary["GlobalClusterIdentifier"] == glob.outputs["GlobalClusterIdentifier"]
    assert deployed_secondary["ArtifactBucket"] == "trading-prod-artifacts-111111111111-us-east-2"
    # The primary is first created without replication, the secondary replicates back...
    assert primary.parameters["PeerConfigBucketArn"] == ""
    assert deployed_secondary["PeerConfigBucketArn"] == primary.outputs["ConfigBucketArn"]
    assert deployed_secondary["PeerDataKeyArn"] == primary.outputs["DataKeyArn"]
    # ...and the link stage turns the primary's replication to the secondary on.
    assert deployed_primary["PeerConfigBucketArn"] == secondary.outputs["ConfigBucketArn"]
    assert deployed_primary["PeerAuditBucketArn"] == secondary.outputs["AuditBucketArn"]
    assert deployed_primary["PeerDataKeyArn"] == secondary.outputs["DataKeyArn"]


def test_second_deploy_makes_no_write_call(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    deploy(make_deployment(local_aws, prod, prod_files))
    again = make_deployment(local_aws, prod, prod_files)

    results = deploy(again)

    assert {r.status for r in results} == {"unchanged"}
    assert len(results) == 7
    assert again.clients.counter.writes == {}
    assert again.clients.counter.calls[STATUS_INVOKE] == 1  # the migrate status: a read
    planned = plan(make_deployment(local_aws, prod, prod_files))
    assert [r.status for r in planned] == ["unchanged"] * 7
    assert planned[0].reasons == []


def test_first_plan_shows_sources_of_parameters(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = make_deployment(local_aws, prod, prod_files)
    stages = {r.name: r for r in plan(dep)}

    assert stages["global"].status == "create"
    assert stages["bootstrap"].status == "create"
    assert stages["bootstrap"].reasons == [
        "role AWSCloudFormationStackSetAdministrationRole",
        "role AWSCloudFormationStackSetExecutionRole in 111111111111",
        "bucket trading-prod-artifacts-111111111111-us-east-1",
        "bucket trading-prod-artifacts-111111111111-us-east-2",
        f"{2 * sum(k.endswith('.zip') for k in prod_files)} Lambda zip upload(s)",
    ]
    assert stages["primary"].parameters["GlobalClusterIdentifier"] == (
        "<global.GlobalClusterIdentifier>"
    )
    assert stages["primary"].parameters["PeerConfigBucketArn"] == ""
    assert stages["link"].parameters["PeerConfigBucketArn"] == "<secondary.ConfigBucketArn>"
    assert stages["migrate"].status == "create"
    assert stages["migrate"].reasons == [
        "111111111111: the primary stack is not deployed yet; status after it"
    ]
    assert dep.clients.counter.writes == {}
    assert STATUS_INVOKE not in dep.clients.counter.calls


def test_failed_stage_stops_with_reasons_and_rerun_resumes(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # The link stage updates the primary's ConfigBucket (replication on): it fails.
    faults.fail_instance("trading-prod-primary", "ConfigBucket", "access denied (injected)", skip=1)

    first = deploy(make_deployment(local_aws, prod, prod_files))

    assert [(r.name, r.status) for r in first][-1] == ("link", "failed")
    reasons = first[-1].reasons
    assert any("ResourceLogicalId:ConfigBucket" in reason for reason in reasons), reasons
    assert any("ConfigBucket (AWS::S3::Bucket): UPDATE_FAILED" in r for r in reasons), reasons

    second = deploy(make_deployment(local_aws, prod, prod_files))
    assert [(r.name, r.status) for r in second] == [
        ("bootstrap", "unchanged"),
        ("global", "unchanged"),
        ("primary", "updated"),  # the failed link left the instance OUTDATED: redeployed
        ("migrate", "unchanged"),
        ("secondary", "unchanged"),
        ("observer", "unchanged"),
        ("link", "unchanged"),
    ], second[-1].reasons


def test_pending_migrations_are_applied_after_the_primary_stage(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN a first rollout and a migrate function with two migrations pending
    account, region = prod.accounts[0], prod.primary.region
    pending = ["0001_trades", "0002_app_user"]
    local_aws.queue_lambda_answers(
        account,
        region,
        {"status": "ok", "pending": pending, "applied": []},
        {"status": "ok", "applied": pending, "already_applied": []},
    )
    dep = make_deployment(local_aws, prod, prod_files)
    sent: list[bytes] = []
    dep.clients.session.events.register(  # every Lambda client, the invoking one included
        "provide-client-params.lambda.Invoke",
        lambda params, **_: sent.append(params["Payload"]),
    )

    # WHEN it deploys and a plan follows
    results = deploy(dep)
    planned = plan(make_deployment(local_aws, prod, prod_files))

    # THEN the migrate step asked for the status, applied, and reports what it applied
    names = [r.name for r in results]
    assert names.index("migrate") == names.index("primary") + 1
    migrate = results[names.index("migrate")]
    assert migrate.status == "updated", migrate.reasons
    assert migrate.outputs == {"applied": "111111111111:0001_trades, 111111111111:0002_app_user"}
    assert migrate.parameters == {"111111111111.MigrateFunctionName": "trading-prod-migrate"}
    assert [json.loads(p) for p in sent] == [{"action": "status"}, {"action": "apply"}]
    assert results[-1].status == "updated"
    # AND the plan afterwards reads the status only: nothing pending, unchanged
    assert {r.name: r.status for r in planned}["migrate"] == "unchanged"


def test_failed_migration_stops_the_rollout_and_rerun_resumes(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN a migrate function whose apply raises
    account, region = prod.accounts[0], prod.primary.region
    local_aws.queue_lambda_answers(
        account,
        region,
        {"status": "ok", "pending": ["0003_broken"], "applied": []},
        {"errorMessage": 'relation "nope" does not exist', "errorType": "DatabaseError"},
    )

    # WHEN it deploys
    first = deploy(make_deployment(local_aws, prod, prod_files))

    # THEN the rollout stops at the migrate step with the function's message
    assert [(r.name, r.status) for r in first][-2:] == [
        ("primary", "created"),
        ("migrate", "failed"),
    ]
    assert first[-1].reasons == [
        '111111111111: trading-prod-migrate (apply): relation "nope" does not exist'
    ]

    # AND a re-run (the status still pending, then applied) resumes from there
    local_aws.queue_lambda_answers(
        account,
        region,
        {"status": "ok", "pending": ["0003_broken"], "applied": []},
        {"status": "ok", "applied": ["0003_broken"], "already_applied": []},
    )
    second = deploy(make_deployment(local_aws, prod, prod_files))
    assert [(r.name, r.status) for r in second] == [
        ("bootstrap", "unchanged"),
        ("global", "unchanged"),
        ("primary", "unchanged"),
        ("migrate", "updated"),
        ("secondary", "created"),
        ("observer", "created"),
        ("link", "updated"),
    ]


def test_throttling_and_operation_in_progress_are_retried(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.fail_call("CreateStackInstances", "Throttling", "Rate exceeded", times=2)
    faults.fail_call("CreateStackSet", "OperationInProgressException", "busy", times=1)
    faults.fail_call("UpdateStackInstances", "StaleRequestException", "stale", times=1)
    dep = make_deployment(local_aws, prod, prod_files)

    results = deploy(dep)

    assert results[-1].status == "updated"
    calls = dep.clients.counter.calls
    assert calls["CreateStackInstances"] == 4 + 2  # four stages, two throttled attempts
    assert calls["CreateStackSet"] == 4 + 1
    assert calls["UpdateStackInstances"] == 1 + 1


def test_operation_running_is_polled_with_backoff(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    faults.set_operation_seconds(0.05)
    dep = make_deployment(local_aws, prod, prod_files)

    results = deploy(dep)

    assert results[-1].status == "updated"
    polls = dep.clients.counter.calls["DescribeStackSetOperation"]
    # RUNNING then SUCCEEDED (at least one operation seen running: the rest may end before
    # their first poll on a busy machine), few calls per operation
    assert 4 + 1 <= polls <= 4 * 6
    assert "running" in dep.progress.stream.getvalue()  # type: ignore[attr-defined]


def test_templates_over_51200_bytes_go_by_template_url(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    small = dict(prod_files)
    sent: dict[str, set[str]] = {}
    dep = make_deployment(local_aws, prod, small)

    def record(params: dict[str, Any], **_: Any) -> None:
        sent[params["StackSetName"]] = {k for k in params if k.startswith("Template")}

    cfn = dep.clients.client("cloudformation", "us-east-1")
    cfn.meta.events.register("provide-client-params.cloudformation.CreateStackSet", record)
    deploy(dep)

    assert len(prod_files["templates/primary.yaml"]) > 51_200
    assert len(prod_files["templates/global.yaml"]) <= 51_200
    assert sent["trading-prod-primary"] == {"TemplateURL"}
    assert sent["trading-prod-secondary"] == {"TemplateURL"}
    assert sent["trading-prod-global"] == {"TemplateBody"}
    body = cfn.describe_stack_set(StackSetName="trading-prod-primary")["StackSet"]["TemplateBody"]
    assert yaml.safe_load(body) == yaml.safe_load(prod_files["templates/primary.yaml"])


def test_a_failed_instance_within_the_tolerance_fails_the_stage(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN an environment that tolerates one failed instance, and a secondary that fails
    tolerant = replace(
        prod, deployment=DeploymentSettings(failure_tolerance_count=1, max_concurrent_count=2)
    )
    faults.fail_resource("DataKey", "key policy refused (injected)", action="create", skip=1)
    dep = make_deployment(local_aws, tolerant, prod_files)
    sent: list[dict[str, str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append({p["ParameterKey"]: p["ParameterValue"] for p in params["ParameterOverrides"]})

    cfn = dep.clients.client("cloudformation", "us-east-1")
    cfn.meta.events.register("provide-client-params.cloudformation.UpdateStackInstances", record)

    # WHEN it deploys: the operation SUCCEEDS (one failure is within the tolerance)
    results = deploy(dep)

    # THEN the stage fails anyway and the link stage never runs with "" peer values
    assert [(r.name, r.status) for r in results][-1] == ("secondary", "failed")
    assert any("DataKey" in reason for reason in results[-1].reasons), results[-1].reasons
    assert sent == []


def test_primary_keeps_its_peer_values_while_the_secondary_is_failed(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN a full rollout, then a secondary update that failed (instance OUTDATED)
    deploy(make_deployment(local_aws, prod, prod_files))
    dep = make_deployment(local_aws, prod, prod_files)
    cfn = dep.clients.client("cloudformation", "us-east-1")
    faults.fail_instance("trading-prod-secondary", "ConfigBucket", "access denied (injected)")
    cfn.update_stack_instances(
        StackSetName="trading-prod-secondary",
        Accounts=list(prod.accounts),
        Regions=[prod.secondary.region],
        ParameterOverrides=[],
    )
    before = stack_parameters(dep, "trading-prod-primary", "us-east-1")
    assert before["PeerConfigBucketArn"].startswith("arn:aws:s3:::")

    # WHEN the next rollout runs
    results = deploy(dep)

    # THEN the primary is not touched (replication stays on) and the secondary is redeployed
    statuses = {r.name: r.status for r in results}
    assert statuses["primary"] == "unchanged", results
    assert statuses["secondary"] == "updated"
    after = stack_parameters(dep, "trading-prod-primary", "us-east-1")
    assert after["PeerConfigBucketArn"] == before["PeerConfigBucketArn"]
