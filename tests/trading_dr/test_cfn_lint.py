"""cfn-lint, through its Python API, finds nothing in any template of any environment."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, region_of, template_text
from trading_dr.config import Role

CASES = [(env, role) for env in ENVIRONMENTS for role in ALL_ROLES]


@pytest.mark.parametrize(("env", "role"), CASES, ids=[f"{e}-{r.value}" for e, r in CASES])
def test_cfn_lint_is_silent(env: str, role: Role) -> None:
    # Informational findings too: each is fixed in the generator, none is ignored here.
    config = ManualArgs(regions=[region_of(env, role)], include_checks=["I"])
    matches = lint(template_text(env, role), config=config)
    assert not matches, "\n".join(str(m) for m in matches)
