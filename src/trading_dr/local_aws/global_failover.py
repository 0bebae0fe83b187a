"""moto, extended just enough to execute the failover workflow in-process (tests and drills).

moto 5.2 executes Step Functions state machines (with `execute_state_machine`) and routes
`aws-sdk:` tasks to its own backends, but it does not implement Aurora's global
`FailoverGlobalCluster` / `SwitchoverGlobalCluster`, and its Wait states sleep for real.
`local_failover()` adds, for the duration of a `with` block:

- both RDS actions, with AWS's observable behaviour: the call returns at once with the
  global cluster `failing-over` / `switching-over`; the writer flag moves to the target
  member (and the status returns to `available`) only after `complete_after_polls`
  further DescribeGlobalClusters calls, as a real promotion completes after some polls;
  both refuse a target that is not a secondary member and a second promotion under way
  (SwitchoverGlobalCluster has no AllowDataLoss parameter: botocore itself refuses it);
- fault injection: `reject_promotion` makes both calls fail with an RDS fault, `stall`
  leaves the promotion in progress forever (the writer never moves);
- instant Wait states: the seconds each Wait asked for are recorded instead of slept (and
  handed to `on_wait`: a drill advances its simulated clock by them);
- `aws-sdk:sfn:*` tasks as AWS runs them: Step Functions takes PascalCase parameters and
  answers PascalCase fields even where the native API is camelCase (Step Functions
  Developer Guide, "AWS SDK service integrations"); moto passes them through unchanged.

Everything else is stock moto. `local_failover()` restores moto on exit; the local AWS
server keeps the extension for its life (`install()`): there a Wait state takes no time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda_simple.models import lambda_simple_backends
from moto.core.responses import ActionResult
from moto.rds.exceptions import RDSClientError
from moto.rds.models import GlobalCluster, RDSBackend
from moto.rds.responses import RDSResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)

from trading_dr.local_aws.aurora_global import global_backend

ACCOUNT = "123456789012"


class GlobalClusterNotFoundError(RDSClientError):
    def __init__(self, identifier: str) -> None:
        super().__init__("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found")


class InvalidGlobalClusterStateError(RDSClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidGlobalClusterStateFault", message)


@dataclass
class _Pending:
    cluster: GlobalCluster
    target_arn: str
    polls_left: int
    account: str = ACCOUNT


@dataclass
class FailoverControl:
    """What the extension did, and the knobs a test may turn while it runs."""

    complete_after_polls: int = 1
    reject_promotion: bool = False
    stall: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    waits_s: list[int] = field(default_factory=list)
    describe_calls: int = 0
    on_wait: Callable[[int], None] | None = None
    # Called with the account once a promotion completes (the server publishes the new
    # secondary's replication lag then, as Aurora starts reporting it).
    on_promoted: Callable[[str], None] | None = None
    _pending: list[_Pending] = field(default_factory=list)

    # -- RDS behaviour ------------------------------------------------------------------
    def promote(
        self, params: dict[str, Any], *, planned: bool, account: str = ACCOUNT
    ) -> GlobalCluster:
        identifier = params["GlobalClusterIdentifier"]
        target = params["TargetDbClusterIdentifier"]
        allow_data_loss = bool(params.get("AllowDataLoss", False))
        self.calls.append(
            {
                "action": "SwitchoverGlobalCluster" if planned else "FailoverGlobalCluster",
                "GlobalClusterIdentifier": identifier,
                "TargetDbClusterIdentifier": target,
                "AllowDataLoss": allow_data_loss,
            }
        )
        cluster = global_backend(account).global_clusters.get(identifier)
        if cluster is None:
            raise GlobalClusterNotFoundError(identifier)
        if self.reject_promotion:
            raise InvalidGlobalClusterStateError(
                f"Global cluster {identifier} is not in a state that allows this operation"
            )
        members = {m.db_cluster_arn: m for m in cluster.members}
        member = members.get(target) or next(
            (m for m in cluster.members if m.db_cluster_identifier == target), None
        )
        if member is None or member.is_writer:
            raise InvalidGlobalClusterStateError(
                f"{target} is not a secondary cluster of global cluster {identifier}"
            )
        if cluster.status != "available":
            raise InvalidGlobalClusterStateError(f"global cluster {identifier} is {cluster.status}")
        cluster.status = "switching-over" if planned else "failing-over"
        self._pending.append(
            _Pending(cluster, member.db_cluster_arn, self.complete_after_polls, account)
        )
        return cluster

    def tick(self) -> None:
        """One DescribeGlobalClusters call: promotions in progress get one poll closer."""
        self.describe_calls += 1
        if self.stall:
            return
        for pending in list(self._pending):
            pending.polls_left -= 1
            if pending.polls_left <= 0:
                for member in pending.cluster.members:
                    member.is_writer = member.db_cluster_arn == pending.target_arn
                pending.cluster.status = "available"
                self._pending.remove(pending)
                if self.on_promoted is not None:
                    self.on_promoted(pending.account)

    # -- helpers for tests ----------------------------------------------------------------
    @staticmethod
    def writer_arn(identifier: str, account: str = ACCOUNT) -> str | None:
        cluster = global_backend(account).global_clusters[identifier]
        return next((m.db_cluster_arn for m in cluster.members if m.is_writer), None)

    @staticmethod
    def queue_lambda_result(region: str, payload: dict[str, Any], account: str = ACCOUNT) -> None:
        """The next Lambda invocation in `region` returns `payload` (moto's simple Lambda
        answers invocations from this queue, in order)."""
        backend = lambda_simple_backends[account][region]
        backend.lambda_simple_results_queue.append(json.dumps(payload))


_control: FailoverControl | None = None
_installed: list[bool] = []  # non-empty once the patches are in (a list: no `global`)
_in_block: list[bool] = []  # non-empty inside local_failover()


def _active() -> FailoverControl:
    if _control is None:  # pragma: no cover - only reachable if patched methods leak
        raise RuntimeError("local_failover() is not active")
    return _control


def _failover_global_cluster(self: RDSResponse) -> ActionResult:
    promoted = _active().promote(self.params, planned=False, account=self.current_account)
    return ActionResult({"GlobalCluster": promoted})


def _switchover_global_cluster(self: RDSResponse) -> ActionResult:
    promoted = _active().promote(self.params, planned=True, account=self.current_account)
    return ActionResult({"GlobalCluster": promoted})


_original_describe = RDSBackend.describe_global_clusters
_original_wait = WaitFunction._wait_interval
_original_sdk_task = aws_sdk.StateTaskServiceAwsSdk._eval_service_task


def _describe(backend: RDSBackend) -> list[GlobalCluster]:
    _active().tick()
    return _original_describe(backend)


def _wait(function: WaitFunction, env: Any, wait_seconds: int) -> None:
    control = _active()
    control.waits_s.append(wait_seconds)
    if control.on_wait is not None:
        control.on_wait(wait_seconds)


def _sdk_task(task: aws_sdk.StateTaskServiceAwsSdk, **kwargs: Any) -> None:
    if task.resource.api_name != "sfn":
        _original_sdk_task(task, **kwargs)
        return
    kwargs["normalised_parameters"] = {
        key[:1].lower() + key[1:]: value for key, value in kwargs["normalised_parameters"].items()
    }
    _original_sdk_task(task, **kwargs)
    env = kwargs["env"]
    answer = env.stack.pop()
    env.stack.append({key[:1].upper() + key[1:]: value for key, value in answer.items()})


def _patch() -> None:
    RDSResponse.failover_global_cluster = _failover_global_cluster  # type: ignore[attr-defined]
    RDSResponse.switchover_global_cluster = _switchover_global_cluster  # type: ignore[attr-defined]
    RDSBackend.describe_global_clusters = _describe  # type: ignore[method-assign,assignment]
    WaitFunction._wait_interval = _wait  # type: ignore[method-assign,assignment]
    aws_sdk.StateTaskServiceAwsSdk._eval_service_task = _sdk_task  # type: ignore[method-assign,assignment]


def _unpatch() -> None:
    del RDSResponse.failover_global_cluster  # type: ignore[attr-defined]
    del RDSResponse.switchover_global_cluster  # type: ignore[attr-defined]
    RDSBackend.describe_global_clusters = _original_describe  # type: ignore[method-assign]
    WaitFunction._wait_interval = _original_wait  # type: ignore[method-assign]
    aws_sdk.StateTaskServiceAwsSdk._eval_service_task = _original_sdk_task  # type: ignore[method-assign]


def install() -> FailoverControl:
    """For the life of the process (the local AWS server): the extension with a default
    control. Idempotent; `local_failover()` may still swap in its own control for a while."""
    global _control  # noqa: PLW0603 - moto dispatches to class methods; state lives here
    if not _installed:
        from trading_dr.local_aws import replication_lag

        _control = FailoverControl(on_promoted=replication_lag.publish_once)
        _patch()
        _installed.append(True)
    return _active()


@contextmanager
def local_failover(
    complete_after_polls: int = 1,
    *,
    reject_promotion: bool = False,
    stall: bool = False,
    on_wait: Callable[[int], None] | None = None,
) -> Iterator[FailoverControl]:
    """Extend moto with global failover/switchover and instant waits for a `with` block
    (where `install()` already did, this block's control replaces its control)."""
    global _control  # noqa: PLW0603 - moto dispatches to class methods; state lives here
    if _in_block:
        raise RuntimeError("local_failover() does not nest")
    permanent = bool(_installed)
    previous = _control
    _in_block.append(True)
    _control = FailoverControl(
        complete_after_polls=complete_after_polls,
        reject_promotion=reject_promotion,
        stall=stall,
        on_wait=on_wait,
    )
    if not permanent:
        _patch()
    try:
        yield _control
    finally:
        if not permanent:
            _unpatch()
        _control = previous
        _in_block.clear()
