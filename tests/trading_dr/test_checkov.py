"""checkov, offline (--skip-download), over every template of every environment: no failed
check, and every skip it honours comes from trading_dr.suppressions with its reason."""

from __future__ import annotations

from functools import cache

import pytest

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, template, template_text
from trading_dr.audit.scanners import ScanSummary, run_checkov, suppression_rows
from trading_dr.suppressions import SUPPRESSIONS

pytestmark = pytest.mark.slow


@cache
def _scan(env: str) -> tuple[ScanSummary, ...]:
    return tuple(run_checkov({role: template_text(env, role) for role in ALL_ROLES}))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_failed_checks(env: str) -> None:
    results = _scan(env)
    assert [r.template for r in results] == [role.value for role in ALL_ROLES]
    # checkov ran its checks (a parse failure would pass nothing and fail nothing).
    assert all(r.passed > 0 for r in results), results
    failed = [f"{r.template}: {f}" for r in results for f in r.failed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_checkov_honours_every_suppression_and_no_other(env: str) -> None:
    # Each Metadata skip (written only from the table) is one skipped check, and vice versa.
    rows = suppression_rows({role: template(env, role) for role in ALL_ROLES})
    assert sum(r.skipped for r in _scan(env)) == len(rows)
    assert {(row[1], row[3]) for row in rows} <= {
        (logical, check)
        for logical, _ in {(r[1], r[2]) for r in rows}
        for target, check in SUPPRESSIONS
        if target in (logical, _)
    }
