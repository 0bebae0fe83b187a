"""`trading-dr drill --scenario NAME`: the timeline, JSON, and the exit code."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.templates import template
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment, Role
from trading_dr.deploy.commands import DRILL_SCENARIOS
from trading_dr.local_aws import drill

register_operating_commands()


def test_the_cli_offers_exactly_the_scenarios() -> None:
    assert sorted(DRILL_SCENARIOS) == sorted(drill.SCENARIOS)


def test_drill_prints_the_timeline_and_exits_0() -> None:
    result = CliRunner().invoke(cli, ["drill", "--scenario", "partition"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "drill partition (prod), simulated time:"
    assert any("page: ALARM" in line and "one-vantage-point" in line for line in lines)
    assert lines[-1] == "drill partition: PASSED"


def test_drill_json() -> None:
    result = CliRunner().invoke(cli, ["drill", "--scenario", "partition", "--output", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["passed"] is True
    assert body["timeline"][0]["offset_s"] == 0
    assert all(e["met"] for e in body["expectations"])


def test_an_unexpected_outcome_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(env: Environment) -> dict[Role, dict[str, Any]]:
        templates = copy.deepcopy({role: template(env.name, role) for role in Role})
        rule = templates[Role.SECONDARY]["Resources"]["FailoverTriggerRule"]
        rule["Properties"]["State"] = "DISABLED"
        return templates

    monkeypatch.setattr(drill, "rendered_templates", broken)
    result = CliRunner().invoke(cli, ["drill", "--scenario", "region-outage"])
    assert result.exit_code == 1
    assert "[FAILED] the quorum alarm's rule started exactly one unplanned run" in result.output
    assert result.output.splitlines()[-1] == "drill region-outage: FAILED"


def test_an_unknown_environment_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["drill", "--scenario", "planned", "--env", "nowhere"])
    assert result.exit_code != 0
    assert "error: unknown environment nowhere" in result.output
