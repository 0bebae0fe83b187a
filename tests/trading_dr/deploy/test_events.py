"""Failure reasons: the earliest failure of the operation first, read from every page of
the stack's events (the local AWS pages them and records a rollback as AWS does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.trading_dr.local_aws.fixtures import make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.events import CANCELLED, StackEvent, failure_reasons
from trading_dr.deploy.rollout import deploy
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

ROOT_CAUSE = "Resource handler returned message: state machine definition refused (injected)"


def test_the_root_cause_of_a_large_rollback_is_shown_first(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN the primary's state machine (created after ~120 others) fails to create
    faults.fail_resource("FailoverStateMachine", ROOT_CAUSE, action="create")
    dep = make_deployment(local_aws, prod, prod_files)

    # WHEN it deploys
    results = deploy(dep)

    # THEN the rollback's events push the root cause past the first page...
    cfn = dep.clients.client("cloudformation", "us-east-1")
    summary = cfn.list_stack_instances(StackSetName="trading-prod-primary")["Summaries"][0]
    first_page = cfn.describe_stack_events(StackName=summary["StackId"])
    assert "NextToken" in first_page
    assert all(e.get("ResourceStatusReason") != ROOT_CAUSE for e in first_page["StackEvents"])
    # ...and the stage's first reason is still that root cause
    assert (results[-1].name, results[-1].status) == ("primary", "failed")
    assert results[-1].reasons[0] == (
        "earliest failure: 111111111111/us-east-1 FailoverStateMachine "
        f"(AWS::StepFunctions::StateMachine): CREATE_FAILED: {ROOT_CAUSE}"
    )
    assert dep.clients.counter.calls["DescribeStackEvents"] >= 3  # every page was read


T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
EVENTS = st.lists(
    st.tuples(
        st.integers(0, 10_000),  # seconds after T0
        st.sampled_from(["CREATE_FAILED", "UPDATE_FAILED", "CREATE_COMPLETE", "DELETE_COMPLETE"]),
        st.sampled_from(["quota exceeded", CANCELLED, ""]),
    ),
    max_size=40,
)


@given(EVENTS, st.lists(st.text(max_size=20), max_size=3))
def test_the_earliest_failure_leads_and_no_failure_is_lost(
    raw: list[tuple[int, str, str]], operation: list[str]
) -> None:
    events = [
        StackEvent(T0 + timedelta(seconds=s), "1/r", f"R{i}", "T", status, reason, str(i))
        for i, (s, status, reason) in enumerate(raw)
    ]
    lines = failure_reasons(events, operation)

    failed = [e for e in events if e.failed]
    if not failed:
        assert lines == operation
        return
    earliest = min(failed, key=lambda e: e.timestamp)
    assert lines[0] == f"earliest failure: {earliest.failure()}"
    assert lines[1 : 1 + len(operation)] == operation
    rest = [e for e in failed if e is not earliest]
    cancelled = [e for e in rest if e.reason.startswith(CANCELLED)]
    for event in rest:
        assert (event.failure() in lines) != (event in cancelled)
    if cancelled:
        assert lines[-1].startswith(f"{len(cancelled)} resource(s) cancelled")
