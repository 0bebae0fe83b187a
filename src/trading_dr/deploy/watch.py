"""Following a StackSet operation: its stack events as they happen, a deadline, Ctrl-C,
and attaching to an operation that an earlier run left running.

A stage takes 10-30 minutes on AWS (Aurora), so the operator sees each instance's stack
events while it runs. The wait ends at the `--timeout` deadline with the operation left
running. On Ctrl-C the operator chooses: stop it (StopStackSetOperation: instances not
started are cancelled, running ones finish; then wait for STOPPED) or detach. A re-run
first attaches to any operation of the stack set that is still running, rather than
queueing a second one behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trading_dr.deploy import stacksets
from trading_dr.deploy.events import EventFollower, StackEvent, events_since
from trading_dr.deploy.plan import Stage
from trading_dr.errors import OperationRunningError

if TYPE_CHECKING:
    from trading_dr.deploy.deployed import Deployment


def _cfn(dep: Deployment) -> Any:
    return dep.clients.client("cloudformation", dep.env.primary.region)


def follow(
    dep: Deployment, stage: Stage, operation_id: str, follower: EventFollower
) -> stacksets.OperationOutcome:
    """Wait for the operation, showing its stack events; on Ctrl-C ask stop or detach."""
    cfn, pacing, progress = _cfn(dep), dep.pacing, dep.progress
    detail = f"operation {operation_id} {len(stage.accounts)} instance(s)"

    def on_operation(operation: dict[str, Any]) -> None:
        if follower.since is None and operation.get("CreationTimestamp"):
            follower.since = operation["CreationTimestamp"]

    def on_poll(status: str, elapsed: float) -> None:
        progress.update(stage.name, status.lower(), detail)
        for event in new_events(dep, stage, follower):
            progress.event(stage.name, event.line())

    def wait() -> stacksets.OperationOutcome:
        return stacksets.wait_for_operation(
            cfn, pacing, stage.stack_set, operation_id, on_poll, dep.deadline, on_operation
        )

    detached = OperationRunningError(
        f"detached from operation {operation_id} of stack set {stage.stack_set}, which goes "
        "on in AWS; fix: re-run the same command to attach to it (trading-dr status shows it)"
    )
    try:
        return wait()
    except KeyboardInterrupt:
        if dep.on_interrupt is None or dep.on_interrupt(stage.stack_set, operation_id) != "stop":
            raise detached from None
    stacksets.stop_operation(cfn, pacing, stage.stack_set, operation_id)
    progress.update(stage.name, "stopping", detail)
    try:
        return wait()
    except KeyboardInterrupt:
        raise detached from None


def instance_stacks(dep: Deployment, stage: Stage, current: bool) -> list[tuple[Any, str, str]]:
    """(client, stack id, account/region) of the stage's instances that have a stack;
    with current=False only those not CURRENT (failed, stopped or still running)."""
    found = []
    for summary in stacksets.list_instances(_cfn(dep), dep.pacing, stage.stack_set):
        if summary.get("Region") != stage.region or not summary.get("StackId"):
            continue
        if not current and summary.get("Status") == "CURRENT":
            continue
        account, region = str(summary["Account"]), str(summary["Region"])
        target = dep.clients.client("cloudformation", region, account)
        found.append((target, str(summary["StackId"]), f"{account}/{region}"))
    return found


def new_events(dep: Deployment, stage: Stage, follower: EventFollower) -> list[StackEvent]:
    if follower.since is None:
        return []
    events: list[StackEvent] = []
    for target, stack_id, where in instance_stacks(dep, stage, current=True):
        events += follower.new(target, dep.pacing, stack_id, where)
    return events


def failed_events(dep: Deployment, stage: Stage, follower: EventFollower) -> list[StackEvent]:
    """Every event of the operation (all pages) of its instances that are not CURRENT."""
    events: list[StackEvent] = []
    for target, stack_id, where in instance_stacks(dep, stage, current=False):
        events += events_since(target, dep.pacing, stack_id, where, follower.since)
    return events


def attach(dep: Deployment, stage: Stage) -> bool:
    """Wait for an operation of the stage's stack set that is still running; True if
    there was one (the caller then reads the stack set again)."""
    running = stacksets.running_operation(_cfn(dep), dep.pacing, stage.stack_set)
    if running is None:
        return False
    operation_id = str(running["OperationId"])
    action = running.get("Action", "")
    dep.progress.update(stage.name, "attaching", f"operation {operation_id} ({action}) running")
    outcome = follow(dep, stage, operation_id, EventFollower())
    dep.progress.update(stage.name, "attached", f"operation {operation_id} {outcome.status}")
    return True
