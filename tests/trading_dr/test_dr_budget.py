"""The DR budget: computed from the rendered templates, compared with each environment's
targets, naming every target it misses (the shipped environments do miss some: see the
figures asserted here, which the issue's closing note reports)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.support.templates import environment, template
from trading_dr.config import Role
from trading_dr.dr_budget import ACCEPTED, BudgetError, compute_budget
from trading_dr.dr_figures import ALIAS_TTL_S
from trading_dr.resources.failover.asl import definition_of, definition_string
from trading_dr.resources.routing import FAILOVER_RECORD_TTL_S


def _templates(env: str) -> dict[Role, dict[str, Any]]:
    return {role: template(env, role) for role in Role}


def test_prod_budget_and_the_targets_it_misses() -> None:
    budget = compute_budget(_templates("prod"), environment("prod"))
    figures = {row["component"]: row["seconds"] for row in budget.rows()}
    assert figures["Route 53 detects the primary down"] == 10 * 3 + 10
    assert figures["Resolvers drop the cached primary answer"] == FAILOVER_RECORD_TTL_S
    assert figures["Secondary's own probe alarm fires (first vantage point)"] == 10 * 3 + 10
    assert figures["Workflow stops waiting for the Aurora writer"] == 300
    assert figures["Workflow timeout (then a human is paged)"] == 900
    # the RTO target applies to accepting trades (the traffic path); storing catches up
    # after the promotion plus the reconciler's grace period and pass interval
    assert (budget.traffic_rto_s, budget.writes_rto_s, budget.rto_s) == (50, 100, 50)
    assert budget.storing_rto_s == 100 + 20 + 15
    assert figures["Reconciler grace period (an entry younger is still in its queue)"] == 20
    assert budget.rpo_by_store == {
        "aurora": 1,
        "dynamodb sessions": 1,
        "s3 config and audit buckets (RTC)": 900,
        "accepted trades (journal replication + reconciler grace + pass)": 1 + 20 + 15,
    }
    assert budget.missed() == [
        "rpo_target_s (60 s) missed by s3 config and audit buckets (RTC): 900 s",
    ]
    assert budget.within_targets is False
    assert all(row["source"] for row in budget.rows())


def test_dev_budget_follows_its_30_s_health_checks() -> None:
    budget = compute_budget(_templates("dev"), environment("dev"))
    assert budget.traffic_rto_s == 30 * 3 + 30 + FAILOVER_RECORD_TTL_S
    assert budget.writes_rto_s == 100
    assert budget.missed() == [
        "rto_target_s (120 s) missed by the traffic path (accepting trades): 130 s",
        "rpo_target_s (60 s) missed by s3 config and audit buckets (RTC): 900 s",
    ]


def test_figures_come_from_the_templates_not_from_config() -> None:
    templates = _templates("prod")
    primary = templates[Role.PRIMARY]["Resources"]
    primary["ApiHealthCheck"]["Properties"]["HealthCheckConfig"]["FailureThreshold"] = 2
    record = primary["ApiFailoverRecord"]["Properties"]
    record["TTL"] = "5"
    machine = templates[Role.SECONDARY]["Resources"]["FailoverStateMachine"]["Properties"]
    definition = definition_of(machine)
    definition["States"]["WaitForWriter"]["Seconds"] = 20
    machine["DefinitionString"] = definition_string(definition)
    budget = compute_budget(templates, environment("prod"))
    assert budget.traffic_rto_s == 10 * 2 + 10 + 5
    figures = {row["component"]: row["seconds"] for row in budget.rows()}
    assert figures["Workflow stops waiting for the Aurora writer"] == 20 * 30
    assert not [m for m in budget.missed() if "traffic path" in m]


def test_an_alias_record_costs_the_targets_ttl() -> None:
    templates = _templates("prod")
    record = templates[Role.PRIMARY]["Resources"]["ApiFailoverRecord"]["Properties"]
    target = record.pop("ResourceRecords")[0]
    del record["TTL"]
    record["AliasTarget"] = {"DNSName": target, "HostedZoneId": "Z1", "EvaluateTargetHealth": False}
    budget = compute_budget(templates, environment("prod"))
    assert budget.traffic_rto_s == 10 * 3 + 10 + ALIAS_TTL_S


def test_targets_met_leave_nothing_missed() -> None:
    env = environment("prod")
    relaxed = replace(env, failover=replace(env.failover, rto_target_s=120, rpo_target_s=900))
    budget = compute_budget(_templates("prod"), relaxed)
    assert budget.missed() == []
    assert budget.within_targets is True


@pytest.mark.parametrize(
    ("role", "logical"),
    [
        (Role.PRIMARY, "ApiHealthCheck"),
        (Role.PRIMARY, "ApiFailoverRecord"),
        (Role.SECONDARY, "PeerUnhealthyAlarm"),
        (Role.SECONDARY, "FailoverStateMachine"),
        (Role.SECONDARY, "ReconcilerFunction"),
    ],
)
def test_a_missing_failover_resource_is_an_error(role: Role, logical: str) -> None:
    templates = _templates("prod")
    del templates[role]["Resources"][logical]
    with pytest.raises(BudgetError, match=logical):
        compute_budget(templates, environment("prod"))


def test_no_rtc_means_no_s3_bound() -> None:
    templates = _templates("prod")
    for resource in templates[Role.PRIMARY]["Resources"].values():
        if resource["Type"] == "AWS::S3::Bucket":
            resource["Properties"].pop("ReplicationConfiguration", None)
    with pytest.raises(BudgetError, match="Replication Time Control"):
        compute_budget(templates, environment("prod"))


def test_reconciler_timing_is_read_from_the_template() -> None:
    # GIVEN the secondary's reconciler with a longer grace period than configured
    templates = _templates("prod")
    variables = templates[Role.SECONDARY]["Resources"]["ReconcilerFunction"]["Properties"][
        "Environment"
    ]["Variables"]
    variables["GRACE_SECONDS"], variables["PASS_INTERVAL_SECONDS"] = "50", "30"

    # WHEN the budget is computed THEN the accepted trades' RPO follows the template
    budget = compute_budget(templates, environment("prod"))
    assert budget.rpo_by_store[ACCEPTED] == 1 + 50 + 30
    assert "rpo_target_s (60 s) missed by " + ACCEPTED + ": 81 s" in budget.missed()


def test_a_global_template_without_the_journal_is_an_error() -> None:
    templates = _templates("prod")
    del templates[Role.GLOBAL]["Resources"]["JournalTable"]
    with pytest.raises(BudgetError, match="trade journal"):
        compute_budget(templates, environment("prod"))


def test_the_write_path_waits_for_the_slower_vantage_point() -> None:
    templates = _templates("prod")
    alarm = templates[Role.SECONDARY]["Resources"]["ObserverSeesPeerDownAlarm"]["Properties"]
    alarm["EvaluationPeriods"] = alarm["DatapointsToAlarm"] = 6
    budget = compute_budget(templates, environment("prod"))
    figures = {row["component"]: row["seconds"] for row in budget.rows()}
    assert figures["Observer's alarm fires (the second vantage point, a third region)"] == 70
    # The quorum fires when the slower of the two agrees: 70 s, then Aurora's ~60 s.
    assert budget.writes_rto_s == 70 + 60


def test_the_automatic_failover_conditions_are_stated_in_words() -> None:
    budget = compute_budget(_templates("prod"), environment("prod"))
    text = " ".join(budget.automatic_failover_conditions)
    assert "only when BOTH the secondary's own probe (40 s" in text
    assert (
        'ALARM("trading-prod-peer-unhealthy") AND ALARM("trading-prod-observer-sees-peer-down")'
        in text
    )
    assert "trading-prod-peer-down-one-vantage-point pages a human" in text
    assert "--accept-data-loss" in text


def test_no_observer_no_budget() -> None:
    templates = _templates("prod")
    del templates[Role.OBSERVER]
    with pytest.raises(BudgetError, match="no observer template"):
        compute_budget(templates, environment("prod"))
