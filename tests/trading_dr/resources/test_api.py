"""API Gateway: the Deployment is named by the content hash of everything it snapshots and
depends on all of it, so any change to the API reaches the stage (issue 10 item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.assertions import as_list, resources_of_type
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.cfn_template import API_SNAPSHOT_TYPES, snapshot_hash, snapshot_members
from trading_dr.config import Role
from trading_dr.generator import code_keys, lambda_packages
from trading_dr.render import template_dict
from trading_dr.resources import api
from trading_dr.stacks import build_regional

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]


def _deployment(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = resources_of_type(t, "AWS::ApiGateway::Deployment").items()
    return found


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_deployment_depends_on_everything_it_snapshots(env: str, role: Role) -> None:
    t = template(env, role)
    logical, deployment = _deployment(t)
    members = {name for kind in API_SNAPSHOT_TYPES for name in resources_of_type(t, kind)}
    assert "BadRequestBodyResponse" in members
    assert "TradeRequestModel" in members
    assert set(as_list(deployment["DependsOn"])) == members
    assert logical == "TradingApiDeployment" + snapshot_hash(snapshot_members(t, "TradingApi"))
    stage = t["Resources"]["TradingApiStage"]["Properties"]
    assert stage["DeploymentId"] == {"Ref": logical}


def test_a_change_to_the_api_is_a_new_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    prod = environment("prod")
    keys = code_keys(lambda_packages())
    before = _deployment(template_dict(build_regional(prod, Role.PRIMARY, keys)))[0]
    schema = {**api.TRADE_REQUEST_SCHEMA, "description": "a changed model"}
    monkeypatch.setattr(api, "TRADE_REQUEST_SCHEMA", schema)
    after = _deployment(template_dict(build_regional(prod, Role.PRIMARY, keys)))[0]
    assert before != after
