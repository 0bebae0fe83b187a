"""The report opens with one screen: what is deployed where, the DR targets met or missed,
every section's open findings, and the checks run (issue 14, item 13)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, environment, rendered, template
from trading_dr.audit import sections
from trading_dr.audit.model import Section
from trading_dr.audit.scanners import ScanSummary
from trading_dr.audit.summary import CHECKS, summary_section
from trading_dr.config import Role
from trading_dr.deploy.plan import stages
from trading_dr.dr_budget import compute_budget


def _templates(env: str) -> dict[Role, Any]:
    return {role: template(env, role) for role in ALL_ROLES}


def _summary(env: str, scans: list[ScanSummary] | None = None) -> Section:
    templates = _templates(env)
    return summary_section(
        environment(env), templates, sections(environment(env), templates, scans), scans
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployed_where_follows_the_rollout_plan(env: str) -> None:
    deployed = _summary(env).tables[0]
    plan = stages(environment(env))
    assert [(row[0], row[1], row[2]) for row in deployed.rows] == [
        (s.name, s.stack_set, s.region) for s in plan
    ]
    count = len(_templates(env)[Role.SECONDARY]["Resources"])
    assert f"secondary.yaml ({count} resources)" in [row[4] for row in deployed.rows]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_targets_are_judged_against_the_computed_budget(env: str) -> None:
    budget = compute_budget(_templates(env), environment(env))
    verdicts = {row[0]: row[3] for row in _summary(env).tables[1].rows}
    assert verdicts["RTO for accepting trades: traffic path (detection + DNS switch)"] == (
        "met" if budget.traffic_rto_s <= budget.rto_target_s else "MISSED"
    )
    # the write path is stated beside it: the target applies to accepting trades
    assert verdicts["RTO, write path (quorum of both probe alarms + Aurora promotion)"] == (
        "stated (not the target's subject)"
    )
    assert verdicts["RPO (worst data store)"] == (
        "met" if budget.rpo_s <= budget.rpo_target_s else "MISSED"
    )
    assert ("MISSED" in verdicts.values()) == (not budget.within_targets)


def test_open_findings_of_every_section_are_listed() -> None:
    findings = [row[0] for row in _summary("prod").tables[2].rows]
    assert any("CKV_AWS_59" in f and "PostTradesMethod" in f for f in findings), findings
    assert any(f.startswith("DR target missed: rpo_target_s") for f in findings)
    # A section that reports a finding appears without the summary knowing it.
    extra = Section("New", findings=("something to fix",))
    summary = summary_section(environment("prod"), _templates("prod"), [extra], None)
    assert summary.tables[2].rows == (("something to fix", "New"),)


def test_checks_say_whether_they_ran_for_this_report() -> None:
    unscanned = {row[0]: row[2] for row in _summary("prod").tables[3].rows}
    assert len(unscanned) == len(CHECKS)
    assert all(
        "not run" in v for k, v in unscanned.items() if k.startswith(("cfn-lint", "checkov"))
    )
    scans = [ScanSummary("cfn-lint", "primary", 0, ("E3001 x",), 0)]
    scanned = {row[0]: row[2] for row in _summary("prod", scans).tables[3].rows}
    cfn_lint = next(v for k, v in scanned.items() if k.startswith("cfn-lint"))
    assert cfn_lint == "run for this report: 1 finding(s) on 1 template(s)"
    findings = [row[0] for row in _summary("prod", scans).tables[2].rows]
    assert "cfn-lint finding on primary: E3001 x" in findings


def test_summary_fits_one_screen() -> None:
    report = rendered("prod").files["audit/REPORT.md"].decode()
    summary = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
    # One screen of Markdown; tests/trading_dr/audit/test_html_browser.py measures the page.
    assert len(summary.strip().splitlines()) <= 45
