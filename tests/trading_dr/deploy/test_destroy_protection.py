"""destroy against deletion protection, and INOPERABLE instances (issue 15 item 5).

The local AWS refuses to delete a stack whose Aurora cluster has DeletionProtection (its
DeletionPolicy Snapshot makes CloudFormation try), fails the DeleteStackInstances
operation and leaves the instance INOPERABLE, excluded from UpdateStackSet, as AWS does.
"""

from __future__ import annotations

import json
from typing import Any

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment, Role
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.plan import stages
from trading_dr.deploy.rollout import Rollout
from trading_dr.deploy.stacksets import describe_stack_set
from trading_dr.deploy.teardown import Protection, destroy, protected_resources
from trading_dr.local_aws.server import LocalAws

ACCOUNT = "111111111111"
SECONDARY = "us-east-2"
STACK_SET = "trading-prod-secondary"
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "DbCluster": {
            "Type": "AWS::RDS::DBCluster",
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "DBClusterIdentifier": "trading-prod-db",
                "Engine": "aurora-postgresql",
                "DeletionProtection": True,
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic"},
    }
}


def present(results: list[Any]) -> list[Any]:
    """The stages that had something deployed (only the secondary is, here; the observer,
    destroyed first, reports itself absent)."""
    return [r for r in results if r.status != "absent"]


def secondary_with_protected_cluster(
    server: LocalAws, env: Environment, files: dict[str, bytes]
) -> Deployment:
    dep = make_deployment(server, env, files)
    cfn = dep.clients.client("cloudformation", "us-east-1")
    cfn.create_stack_set(StackSetName=STACK_SET, TemplateBody=json.dumps(TEMPLATE))
    cfn.create_stack_instances(StackSetName=STACK_SET, Accounts=[ACCOUNT], Regions=[SECONDARY])
    return make_deployment(server, env, files)


def instance(dep: Deployment) -> dict[str, Any]:
    cfn = dep.clients.client("cloudformation", "us-east-1")
    (found,) = cfn.list_stack_instances(StackSetName=STACK_SET)["Summaries"]
    return dict(found)


def test_the_templates_protected_resources_are_the_regional_clusters(
    prod_files: dict[str, bytes],
) -> None:
    # The global cluster is protected too, but RetainExceptOnCreate leaves it alone.
    assert protected_resources(prod_files) == {
        Role.SECONDARY: [("DbCluster", "AWS::RDS::DBCluster")],
        Role.PRIMARY: [("DbCluster", "AWS::RDS::DBCluster")],
    }


def test_a_plain_delete_leaves_the_instance_inoperable_and_deploy_says_so(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = secondary_with_protected_cluster(local_aws, prod, prod_files)

    results = present(destroy(dep))  # what the earlier version did

    assert [(r.name, r.status) for r in results] == [("secondary", "failed")]
    assert any("DbCluster" in reason for reason in results[0].reasons), results[0].reasons
    assert instance(dep)["Status"] == "INOPERABLE"
    secondary = next(s for s in stages(prod) if s.name == "secondary")
    stuck = Rollout(make_deployment(local_aws, prod, prod_files)).refuse_inoperable(
        secondary, apply=False
    )
    assert stuck is not None
    assert stuck.status == "failed"
    assert "is INOPERABLE" in stuck.reasons[0]
    assert "--retain-stacks" in stuck.reasons[0]


def test_retain_stacks_removes_the_stack_sets_and_keeps_the_stacks(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = secondary_with_protected_cluster(local_aws, prod, prod_files)
    stack_id = instance(dep)["StackId"]

    results = present(destroy(dep, Protection.RETAIN))

    assert (results[0].name, results[0].status) == ("secondary", "retained")
    assert f"stack {stack_id} kept (RetainStacks)" in results[0].reasons[0]
    cfn = dep.clients.client("cloudformation", "us-east-1")
    assert describe_stack_set(cfn, dep.pacing, STACK_SET) is None
    target = dep.clients.client("cloudformation", SECONDARY)
    assert (
        target.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    )


def test_retain_stacks_also_clears_an_inoperable_instance(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = secondary_with_protected_cluster(local_aws, prod, prod_files)
    destroy(dep)  # fails: INOPERABLE

    results = present(destroy(make_deployment(local_aws, prod, prod_files), Protection.RETAIN))

    assert results[0].status == "retained"


def test_lifting_protection_lets_the_delete_succeed(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    dep = secondary_with_protected_cluster(local_aws, prod, prod_files)
    stack_id = instance(dep)["StackId"]

    results = present(destroy(dep, Protection.LIFT))

    assert (results[0].name, results[0].status) == ("secondary", "deleted")
    assert dep.clients.counter.calls["ModifyDBCluster"] == 1
    target = dep.clients.client("cloudformation", SECONDARY)
    # By id, DescribeStacks still answers for a deleted stack, as AWS does.
    stack = target.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_COMPLETE"
