"""KMS keys: rotation, retention, and key policies that grant no use outside our services."""

from __future__ import annotations

import pytest

from tests.support.assertions import as_list, resource_count_is, resources_of_type
from tests.support.templates import ENVIRONMENTS, REGIONAL, region_of, template
from trading_dr.config import Role

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_two_rotating_retained_keys_with_aliases(env: str, role: Role) -> None:
    t = template(env, role)
    # Data, logs, and the alarm topic's own key (monitoring.py: the CloudWatch service
    # principal may use it, so it must not be the data key).
    resource_count_is(t, "AWS::KMS::Key", 3)
    resource_count_is(t, "AWS::KMS::Alias", 3)
    for key in resources_of_type(t, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "RetainExceptOnCreate"
        assert key["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_key_policies_have_no_wildcard_actions(env: str, role: Role) -> None:
    for key in resources_of_type(template(env, role), "AWS::KMS::Key").values():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            for action in as_list(statement["Action"]):
                assert "*" not in action, statement["Sid"]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_data_key_use_only_through_services_of_this_region(env: str, role: Role) -> None:
    policy = template(env, role)["Resources"]["DataKey"]["Properties"]["KeyPolicy"]
    use = next(s for s in policy["Statement"] if s["Sid"] == "UseThroughOwnServicesOnly")
    via = use["Condition"]["StringEquals"]["kms:ViaService"]
    region = region_of(env, role)
    assert f"rds.{region}.amazonaws.com" in via
    assert f"s3.{region}.amazonaws.com" in via
    assert all(service.endswith(f".{region}.amazonaws.com") for service in via)
    assert "kms:Decrypt" in use["Action"]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_logs_key_names_the_regional_logs_principal(env: str, role: Role) -> None:
    policy = template(env, role)["Resources"]["LogsKey"]["Properties"]["KeyPolicy"]
    principals = [s.get("Principal", {}).get("Service") for s in policy["Statement"]]
    assert [f"logs.{region_of(env, role)}.amazonaws.com"] in principals
    data_policy = template(env, role)["Resources"]["DataKey"]["Properties"]["KeyPolicy"]
    data_principals = [s.get("Principal", {}) for s in data_policy["Statement"]]
    assert all("Service" not in p for p in data_principals), "the data key names no service"
