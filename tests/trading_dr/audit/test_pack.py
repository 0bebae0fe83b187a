"""The audit pack: written for every environment, derived from the templates (every resource,
every unscoped grant, every data store, the computed DR budget), deterministic, and with a
diagram that renders and names every stateful resource."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, environment, rendered, template
from trading_dr.audit import PACK_FILES, build_pack
from trading_dr.audit.diagram import STATEFUL_TYPES
from trading_dr.audit.encryption import NOT_ENCRYPTED, encryption_rows
from trading_dr.audit.iam import statements
from trading_dr.audit.render import md_cell
from trading_dr.audit.scanners import ScanSummary, scanner_section
from trading_dr.config import Role
from trading_dr.dr_budget import compute_budget
from trading_dr.policies import UNSCOPED_ACTIONS


def _templates(env: str) -> dict[Role, Any]:
    return {role: template(env, role) for role in ALL_ROLES}


def _report(env: str) -> str:
    return rendered(env).files["audit/REPORT.md"].decode()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pack_files_are_written(env: str) -> None:
    files = rendered(env).files
    for name in PACK_FILES:
        assert files[f"audit/{name}"], name
    assert files["audit/architecture.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert files["audit/architecture.svg"].lstrip().startswith(b"<?xml")
    assert b"graphviz version" not in files["audit/architecture.svg"]


def test_prod_pack_is_committed_with_the_templates() -> None:
    committed = rendered("prod").committed()
    assert {f"audit/{name}" for name in PACK_FILES} <= set(committed)
    assert "global.yaml" in committed


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_inventory_names_every_resource(env: str) -> None:
    report = _report(env)
    for role, data in _templates(env).items():
        for logical in data["Resources"]:
            assert logical in report, f"{role.value}/{logical} missing from the inventory"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_unscoped_grant_is_listed_with_its_justification(env: str) -> None:
    report = _report(env)
    unscoped = [
        (st, action)
        for st in statements(_templates(env))
        if st.identity and st.unscoped
        for action in st.actions
    ]
    assert unscoped, "the templates grant nothing on '*': the check below would be vacuous"
    for st, action in unscoped:
        cells = (f"{st.role.value}/{st.owner}", st.sid, "Allow", action, UNSCOPED_ACTIONS[action])
        row = "| " + " | ".join(md_cell(cell) for cell in cells) + " |"
        assert row in report, row


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_data_store_is_encrypted_and_listed(env: str) -> None:
    rows = encryption_rows(_templates(env))
    kinds = {row[2] for row in rows}
    assert {"AWS::RDS::DBCluster", "AWS::S3::Bucket", "AWS::SQS::Queue"} <= kinds
    assert {"AWS::DynamoDB::GlobalTable", "AWS::SNS::Topic", "AWS::Logs::LogGroup"} <= kinds
    assert [row for row in rows if row[3] == NOT_ENCRYPTED] == []
    report = _report(env)
    assert all(f"| {row[0]} | {row[1]} | {row[2]} |" in report for row in rows)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_dr_budget_is_the_computed_one(env: str) -> None:
    budget = compute_budget(_templates(env), environment(env))
    report = _report(env)
    assert f"RTO for accepting trades {budget.rto_s:g} s (target {budget.rto_target_s} s)" in report
    for row in budget.rows():
        assert f"| {row['component']} | {row['seconds']:g} | {row['kind']} |" in report


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_diagram_names_every_stateful_resource(env: str) -> None:
    svg = rendered(env).files["audit/architecture.svg"].decode()
    stateful = [
        logical
        for data in _templates(env).values()
        for logical, resource in data["Resources"].items()
        if resource["Type"] in STATEFUL_TYPES
    ]
    assert len(stateful) >= 8
    for logical in stateful:
        assert f">{logical}</text>" in svg, logical


def test_pack_is_deterministic_without_the_cache() -> None:
    env, templates = environment("prod"), _templates("prod")
    first = build_pack(env, templates, cache_dir=None)
    second = build_pack(env, templates, cache_dir=None)
    assert first == second
    assert first == {k.removeprefix("audit/"): v for k, v in rendered("prod").files.items()
                     if k.startswith("audit/")}  # fmt: skip


def test_html_is_standalone() -> None:
    page = rendered("prod").files["audit/REPORT.html"].decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert 'src="http' not in page
    assert 'href="http' not in page


def test_scanner_section_lists_results_and_open_findings() -> None:
    scans = [ScanSummary("checkov", "primary", 10, ("CKV_X Foo: bar",), 2)]
    section = scanner_section(_templates("prod"), scans)
    assert section.tables[0].rows == (("checkov", "primary", "10", "1", "2"),)
    assert ("checkov", "primary", "CKV_X Foo: bar") in section.tables[1].rows
    # Suppressions marked FINDING come back as open findings, once per gap.
    assert any(
        n.startswith("Open finding") and "CKV_AWS_59" in n and "PostTradesMethod" in n
        for n in section.notes
    ), section.notes
    unscanned = scanner_section(_templates("prod"), None)
    assert "not run" in unscanned.paragraphs[0]
