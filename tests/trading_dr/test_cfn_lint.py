"""cfn-lint, through its Python API, with the project's rules pack, finds nothing in any
template of any environment."""

from __future__ import annotations

import pytest

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, region_of, template_text
from trading_dr.config import Role
from trading_dr.lint import lint_template

CASES = [(env, role) for env in ENVIRONMENTS for role in ALL_ROLES]


@pytest.mark.parametrize(("env", "role"), CASES, ids=[f"{e}-{r.value}" for e, r in CASES])
def test_cfn_lint_is_silent(env: str, role: Role) -> None:
    # Informational findings too: each is fixed in the generator, none is ignored here.
    findings = lint_template(template_text(env, role), region_of(env, role))
    assert not findings, "\n".join(findings)
