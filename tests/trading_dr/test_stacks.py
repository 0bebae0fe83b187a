"""Cross-cutting rules every template keeps, and the primary/secondary symmetry."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.assertions import as_list, policy_statements, resources_of_type
from tests.support.templates import ALL_ROLES, ENVIRONMENTS, REGIONAL, region_of, template
from trading_dr.config import Role
from trading_dr.policies import UNSCOPED_ACTIONS
from trading_dr.stacks import REGIONAL_PROFILES

ALL = [(env, role) for env in ENVIRONMENTS for role in ALL_ROLES]
ALL_IDS = [f"{e}-{r.value}" for e, r in ALL]
# Types that hold data: losing one to a stack update or deletion loses data. Deletion keeps
# them (but on a failed first create, when they hold nothing yet); replacement keeps them.
KEEP = ({"RetainExceptOnCreate"}, {"Retain"})
STATEFUL = {
    "AWS::RDS::GlobalCluster": KEEP,
    "AWS::RDS::DBCluster": ({"Snapshot"}, {"Snapshot"}),
    "AWS::DynamoDB::GlobalTable": KEEP,
    "AWS::S3::Bucket": KEEP,
    "AWS::KMS::Key": KEEP,
    "AWS::Logs::LogGroup": KEEP,
    "AWS::SQS::Queue": KEEP,
    "AWS::Route53::HostedZone": KEEP,
}
REGIONAL_OUTPUTS = {
    "VpcId",
    "PrivateSubnetIds",
    "LambdaSecurityGroupId",
    "DataKeyArn",
    "LogsKeyArn",
    "DbClusterArn",
    "DbClusterEndpoint",
    "DbReaderEndpoint",
    "ConfigBucketName",
    "ConfigBucketArn",
    "AuditBucketName",
    "AuditBucketArn",
    "ReplicationRoleArn",
    "TradeQueueUrl",
    "TradeDeadLetterQueueUrl",
    "ApiFailoverDomain",
    "ApiRegionalDomain",
    # Failover (issue 4): the peer's PeerFenceHealthCheckId comes from FenceHealthCheckId.
    "AlarmTopicArn",
    "HealthCheckId",
    "FenceHealthCheckId",
    "FailoverStateMachineArn",
}


@pytest.mark.parametrize(("env", "role"), ALL, ids=ALL_IDS)
def test_stateful_resources_survive_delete_and_replace(env: str, role: Role) -> None:
    t = template(env, role)
    for resource_type, (on_delete, on_replace) in STATEFUL.items():
        for name, resource in resources_of_type(t, resource_type).items():
            assert resource.get("DeletionPolicy") in on_delete, name
            assert resource.get("UpdateReplacePolicy") in on_replace, name


@pytest.mark.parametrize(("env", "role"), ALL, ids=ALL_IDS)
def test_no_wildcard_actions_and_justified_star_resources(env: str, role: Role) -> None:
    t = template(env, role)
    for name, statement in policy_statements(t):
        if statement["Effect"] == "Deny":
            # A deny on every action (TLS-only bucket policies) is the strongest form.
            continue
        actions = as_list(statement["Action"])
        for action in actions:
            assert action != "*", name
            assert not action.endswith(":*"), f"{name}: {action}"
        key_policy = t["Resources"][name]["Type"] == "AWS::KMS::Key"
        if "*" in as_list(statement.get("Resource", [])) and not key_policy:
            # Key policies' "*" means "this key"; elsewhere it must be justified.
            is_endpoint = t["Resources"][name]["Type"] == "AWS::EC2::VPCEndpoint"
            assert is_endpoint or all(a in UNSCOPED_ACTIONS for a in actions), f"{name}: {actions}"


@pytest.mark.parametrize(("env", "role"), ALL, ids=ALL_IDS)
def test_iam_role_names_include_the_region(env: str, role: Role) -> None:
    for name, resource in resources_of_type(template(env, role), "AWS::IAM::Role").items():
        role_name = resource["Properties"].get("RoleName")
        if role_name is not None:
            assert region_of(env, role) in str(role_name), name
            assert len(str(role_name)) <= 64, name


@pytest.mark.parametrize(("env", "role"), ALL, ids=ALL_IDS)
def test_description_and_generator_metadata(env: str, role: Role) -> None:
    t = template(env, role)
    assert t["AWSTemplateFormatVersion"] == "2010-09-09"
    assert re.match(
        rf"^trading-dr {env} {role.value} \({region_of(env, role)}\): ", t["Description"]
    )
    generator = t["Metadata"]["Generator"]
    assert generator["Name"] == "trading-dr"
    assert (generator["Environment"], generator["Role"]) == (env, role.value)


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", REGIONAL, ids=[r.value for r in REGIONAL])
def test_regional_outputs_are_the_stage_contract(env: str, role: Role) -> None:
    outputs = set(template(env, role)["Outputs"])
    writer = {"DbSecretArn", "MigrateFunctionName"} if REGIONAL_PROFILES[role].db_writer else set()
    expected = REGIONAL_OUTPUTS | writer
    assert outputs == expected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_regions_are_symmetric(env: str) -> None:
    primary = template(env, Role.PRIMARY)
    secondary = template(env, Role.SECONDARY)

    # Same resources, same types, but for what REGIONAL_PROFILES declares role-specific;
    # every other asymmetry is a property decided there.
    def shared(t: dict[str, Any], role: Role) -> dict[str, str]:
        only_here = REGIONAL_PROFILES[role].only_here
        assert only_here <= t["Resources"].keys(), "only_here names real resources"
        return {k: v["Type"] for k, v in t["Resources"].items() if k not in only_here}

    assert shared(primary, Role.PRIMARY) == shared(secondary, Role.SECONDARY)
    assert primary["Parameters"].keys() == secondary["Parameters"].keys()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_templates_stay_within_cloudformation_limits(env: str) -> None:
    for role in ALL_ROLES:
        assert len(template(env, role)["Resources"]) <= 500
