"""Scanner results: every suppression (read back from the templates' Metadata, where
checkov reads it), and with `--scan` the cfn-lint and checkov summaries per template.

Scanners are slow (checkov about 25 s), so `generate.py` runs them only with `--scan`;
tests and CI always run them (tests/trading_dr/test_checkov.py, test_cfn_lint.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trading_dr.audit.model import Section, Table, Templates, resources, table
from trading_dr.config import Role
from trading_dr.errors import OperationFailedError, UsageError

ROOT = Path(__file__).resolve().parents[3]
# checkov pins packaging<24, which pytest 9 cannot share: it lives in a venv of its own.
CHECKOV_VENV = ROOT / ".venv-checkov"


@dataclass(frozen=True)
class ScanSummary:
    tool: str
    template: str
    passed: int
    failed: tuple[str, ...]
    skipped: int


def suppression_rows(templates: Templates) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for role, template in templates.items():
        for logical, resource in resources(template).items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                rows.append(
                    (role.value, logical, resource["Type"], skip["id"], skip.get("comment", ""))
                )
    return rows


def checkov_binary() -> Path:
    """$TRADING_DR_CHECKOV, else the project's .venv-checkov, else checkov on PATH."""
    candidates = [os.environ.get("TRADING_DR_CHECKOV"), str(CHECKOV_VENV / "bin" / "checkov")]
    candidates.append(shutil.which("checkov"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise UsageError(
        "checkov is not installed; fix: bash scripts/test (creates .venv-checkov) or "
        "set TRADING_DR_CHECKOV to a checkov executable"
    )


def run_checkov(texts: Mapping[Role, str], extra_args: tuple[str, ...] = ()) -> list[ScanSummary]:
    """checkov over the templates, offline (--skip-download); one summary per template."""
    binary = checkov_binary()
    with tempfile.TemporaryDirectory(prefix="trading-dr-checkov-") as work:
        for role, text in texts.items():
            Path(work, f"{role.value}.yaml").write_text(text, encoding="utf-8")
        result = subprocess.run(
            [
                str(binary),
                "-d",
                work,
                "--framework",
                "cloudformation",
                "--skip-download",
                "--compact",
                "-o",
                "json",
                *extra_args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode not in (0, 1):
            raise OperationFailedError(f"checkov failed: {result.stderr.strip()[-2000:]}")
        report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    results = [r["results"] for r in reports if r.get("check_type") == "cloudformation"]
    summaries = []
    for role in texts:

        def mine(check: dict[str, str], role: Role = role) -> bool:
            return Path(check["file_path"]).name == f"{role.value}.yaml"

        passed = sum(1 for r in results for c in r.get("passed_checks", []) if mine(c))
        skipped = sum(1 for r in results for c in r.get("skipped_checks", []) if mine(c))
        failed = tuple(
            f"{c['check_id']} {c['resource']}: {c['check_name']}"
            for r in results
            for c in r.get("failed_checks", [])
            if mine(c)
        )
        summaries.append(ScanSummary("checkov", role.value, passed, failed, skipped))
    return summaries


def run_cfn_lint(texts: Mapping[Role, str], regions: Mapping[Role, str]) -> list[ScanSummary]:
    """cfn-lint with the project's rules pack, informational findings included."""
    from trading_dr.lint import lint_template

    return [
        ScanSummary("cfn-lint", role.value, 0, tuple(lint_template(text, regions[role])), 0)
        for role, text in texts.items()
    ]


def rules_pack_table() -> Table:
    """The project's cfn-lint rules pack, each rule with the AWS document it enforces."""
    from trading_dr.rules import CATALOGUE

    rows = [(info.id, info.shortdesc, info.source_url) for info in CATALOGUE.values()]
    return table(
        ("rule", "checks", "AWS source"),
        sorted(rows),
        "rules pack run with cfn-lint by generate.py, tests and CI (src/trading_dr/rules)",
    )


def scanner_section(templates: Templates, scans: list[ScanSummary] | None) -> Section:
    suppressions = suppression_rows(templates)
    tables = []
    if scans is None:
        paragraphs = (
            "Scanners were not run for this rendering (`python generate.py --scan` runs "
            "cfn-lint and checkov and fills this section). CI runs both on every template "
            "of every environment and fails on any finding.",
        )
    else:
        paragraphs = (
            f"{sum(len(s.failed) for s in scans)} findings; checkov was run offline "
            "(--skip-download).",
        )
        tables.append(
            table(
                ("tool", "template", "passed", "failed", "skipped"),
                [(s.tool, s.template, s.passed or "-", len(s.failed), s.skipped) for s in scans],
                "summary",
            )
        )
        findings = [(s.tool, s.template, f) for s in scans for f in s.failed]
        if findings:
            tables.append(table(("tool", "template", "finding"), findings, "findings"))
    tables.append(rules_pack_table())
    tables.append(
        table(
            ("template", "resource", "type", "check", "reason"),
            suppressions,
            "every suppression with its reason (table: trading_dr.suppressions)",
        )
    )
    # Suppressions that hide a real gap, once per gap with the resources it covers.
    gaps: dict[str, list[str]] = {}
    for template_, logical, _, check, reason in suppressions:
        if "FINDING:" in reason:
            gap = f"{check}: {reason.split('FINDING:', 1)[1].strip()}"
            gaps.setdefault(gap, []).append(f"{template_}/{logical}")
    open_findings = tuple(
        f"Open finding, to fix in a builder: {gap} ({', '.join(where)})"
        for gap, where in gaps.items()
    )
    failures = tuple(
        f"{s.tool} finding on {s.template}: {failure}" for s in scans or [] for failure in s.failed
    )
    return Section(
        "Scanner results",
        paragraphs,
        tuple(tables),
        open_findings,
        findings=open_findings + failures,
    )
