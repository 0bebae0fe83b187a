"""Failure reasons: the earliest failure of the operation first, read from every page of
the stack's events (the local AWS pages them and records a rollback as AWS does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.trading_dr.local_aws.fixtures import FAST, make_deployment
from trading_dr.config import Environment
from trading_dr.deploy.events import CANCELLED, StackEvent, events_since, failure_reasons
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


class GrowingStack:
    """describe_stack_events over a list that grows between pages, as it does while
    CloudFormation works: offset-based pages then repeat the tail of the previous page."""

    def __init__(self, events: list[dict[str, object]]) -> None:
        self.events = events  # newest first

    def describe_stack_events(self, StackName: str, NextToken: str = "0") -> dict[str, object]:  # noqa: N803
        start = int(NextToken)
        page = self.events[start : start + 2]
        # a new event arrives after each page is served
        now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=len(self.events))
        self.events.insert(0, raw_event(len(self.events), now))
        more = start + 2 < len(self.events)
        return {"StackEvents": page, **({"NextToken": str(start + 2)} if more else {})}


def raw_event(n: int, when: datetime) -> dict[str, object]:
    return {
        "EventId": f"e{n}",
        "Timestamp": when,
        "LogicalResourceId": f"R{n}",
        "ResourceType": "AWS::SQS::Queue",
        "ResourceStatus": "CREATE_COMPLETE",
    }


def test_events_added_while_paging_are_listed_once() -> None:
    # GIVEN a stack with 5 events that gains one more after every page it serves
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stack = GrowingStack([raw_event(n, start + timedelta(seconds=n)) for n in range(4, -1, -1)])

    # WHEN every event since the start is asked for
    found = events_since(stack, FAST, "stack", "1/us-east-1", start)

    # THEN each event appears once, oldest first
    ids = [e.event_id for e in found]
    assert len(ids) == len(set(ids)), ids
    assert {"e0", "e1", "e2", "e3", "e4"} <= set(ids)
    stamps = [e.timestamp for e in found]
    assert stamps == sorted(stamps)
