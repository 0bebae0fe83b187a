"""Fault injection for the local AWS, set from the process that runs the server.

Tests run `ThreadedMotoServer` in their own process, so they arm faults by calling these
functions directly; the extension consults them while serving requests. Every fault is
consumed (or cleared by `clear()`), so one test cannot leak a fault into the next.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class ResourceFault:
    """Fail the create or update of one logical resource with `reason`, `times` times."""

    logical_id: str
    reason: str
    times: int = 1
    action: str | None = None  # "create", "update" or None for both
    skip: int = 0  # matching creates/updates let through first (e.g. 1: the second stack)


DEFAULT_REPLICATION_LAG_MS = 150.0


@dataclass
class _Faults:
    lock: threading.Lock = field(default_factory=threading.Lock)
    resources: list[ResourceFault] = field(default_factory=list)
    # action name (e.g. "CreateStackInstances") -> queued (error code, message)
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    operation_seconds: float = 0.0
    # stack set name -> [deploys to let through, logical id, reason]
    instances: dict[str, list[object]] = field(default_factory=dict)
    iam_seconds: float = 0.0
    lambda_seconds: float = 0.0
    lambda_limit: int = 1000  # AWS's default regional concurrency limit
    regions_down: set[str] = field(default_factory=set)
    # What Aurora reports as AuroraGlobalDBReplicationLag for each secondary (typically
    # under a second, Aurora User Guide "Monitoring Aurora global databases").
    replication_lag_ms: float = DEFAULT_REPLICATION_LAG_MS
    refused: list[tuple[str, str]] = field(default_factory=list)  # (region, service)


_STATE = _Faults()


def fail_resource(
    logical_id: str, reason: str, times: int = 1, action: str | None = None, skip: int = 0
) -> None:
    """After `skip` that pass, the next `times` creates/updates (`action`: only those) of
    `logical_id` fail."""
    with _STATE.lock:
        _STATE.resources.append(ResourceFault(logical_id, reason, times, action, skip))


# Error codes AWS answers with a server-side status (botocore's standard retry mode
# retries these by status), and the pseudo-code that drops the connection unanswered.
SERVER_ERRORS = {"InternalFailure": 500, "InternalError": 500, "ServiceUnavailable": 503}
DROP_CONNECTION = "ConnectionReset"


def fail_call(action: str, code: str, message: str = "injected fault", times: int = 1) -> None:
    """The next `times` calls of CloudFormation `action` answer error `code`.

    e.g. fail_call("CreateStackInstances", "Throttling", "Rate exceeded", 2). Codes in
    SERVER_ERRORS answer with their 5xx status; DROP_CONNECTION closes the connection
    without an answer (the client sees a dropped connection).
    """
    with _STATE.lock:
        _STATE.errors.setdefault(action, []).extend([(code, message)] * times)


def fail_instance(stack_set: str, logical_id: str, reason: str, skip: int = 0) -> None:
    """After `skip` successful deploys, the next deploy of an instance of `stack_set`
    fails as if its resource `logical_id` had (e.g. skip=1: the primary's link stage)."""
    with _STATE.lock:
        _STATE.instances[stack_set] = [skip, logical_id, reason]


def take_instance_fault(stack_set: str) -> tuple[str, str] | None:
    """(logical id, reason) if this deploy of `stack_set` must fail; consumes it."""
    with _STATE.lock:
        fault = _STATE.instances.get(stack_set)
        if fault is None:
            return None
        if int(str(fault[0])) > 0:
            fault[0] = int(str(fault[0])) - 1
            return None
        del _STATE.instances[stack_set]
        return str(fault[1]), str(fault[2])


def set_operation_seconds(seconds: float) -> None:
    """StackSet operations report RUNNING for this long (default 0: done at once)."""
    with _STATE.lock:
        _STATE.operation_seconds = seconds


def set_lambda_duration(seconds: float) -> None:
    """Each Lambda invocation runs this long (wall time; past its Timeout: timed out)."""
    with _STATE.lock:
        _STATE.lambda_seconds = seconds


def set_iam_propagation_seconds(seconds: float) -> None:
    """A role becomes usable (AssumeRole, StackSets) only this long after its creation."""
    with _STATE.lock:
        _STATE.iam_seconds = seconds


def iam_propagation_seconds() -> float:
    with _STATE.lock:
        return _STATE.iam_seconds


def set_lambda_concurrency_limit(limit: int) -> None:
    """The account's Lambda concurrency limit in every region (a new account's may be 10)."""
    with _STATE.lock:
        _STATE.lambda_limit = limit


def lambda_concurrency_limit() -> int:
    with _STATE.lock:
        return _STATE.lambda_limit


def set_replication_lag_ms(milliseconds: float) -> None:
    """The replication lag every secondary member of a global cluster reports from now on."""
    with _STATE.lock:
        _STATE.replication_lag_ms = milliseconds


def replication_lag_ms() -> float:
    with _STATE.lock:
        return _STATE.replication_lag_ms


def lambda_duration() -> float:
    with _STATE.lock:
        return _STATE.lambda_seconds


def operation_seconds() -> float:
    with _STATE.lock:
        return _STATE.operation_seconds


def take_resource_fault(logical_id: str, action: str) -> str | None:
    """The reason to fail `logical_id` now, consuming one use of its fault; else None."""
    with _STATE.lock:
        for fault in _STATE.resources:
            wanted = fault.action in (None, action)
            if fault.logical_id == logical_id and fault.times > 0 and wanted:
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                return fault.reason
    return None


def take_call_fault(action: str) -> tuple[str, str] | None:
    """(code, message) to answer `action` with now, consuming it; else None."""
    with _STATE.lock:
        queue = _STATE.errors.get(action)
        if queue:
            return queue.pop(0)
    return None


def clear() -> None:
    with _STATE.lock:
        _STATE.resources.clear()
        _STATE.errors.clear()
        _STATE.instances.clear()
        _STATE.operation_seconds = 0.0
        _STATE.regions_down.clear()
        _STATE.refused.clear()
        _STATE.lambda_seconds = 0.0
        _STATE.iam_seconds = 0.0
        _STATE.lambda_limit = 1000
        _STATE.replication_lag_ms = DEFAULT_REPLICATION_LAG_MS
    _clear_drifts()


# -- region outage (a state: it stays until region_up() or clear()) -------------------------


def region_down(region: str) -> None:
    """Every request addressed to `region` is refused (HTTP 503), as in an outage."""
    with _STATE.lock:
        _STATE.regions_down.add(region)


def region_up(region: str) -> None:
    with _STATE.lock:
        _STATE.regions_down.discard(region)


def regions_down() -> list[str]:
    with _STATE.lock:
        return sorted(_STATE.regions_down)


def is_region_down(region: str) -> bool:
    with _STATE.lock:
        return region in _STATE.regions_down


def record_refused(region: str, service: str) -> None:
    with _STATE.lock:
        _STATE.refused.append((region, service))


def refused_calls() -> list[tuple[str, str]]:
    """(region, service) of each request refused because its region was down."""
    with _STATE.lock:
        return list(_STATE.refused)


# -- drift (a state, not an event: it stays until clear()) ----------------------------------

_DRIFTS: dict[str, tuple[str, list[dict[str, str]]]] = {}


def drift_resource(
    logical_id: str,
    status: str = "MODIFIED",
    differences: list[dict[str, str]] | None = None,
) -> None:
    """Drift detection reports `logical_id` (in every stack that has it) as `status`
    (MODIFIED or DELETED) with these PropertyDifferences, until `clear()`."""
    with _STATE.lock:
        _DRIFTS[logical_id] = (status, list(differences or []))


def resource_drift(logical_id: str) -> tuple[str, list[dict[str, str]]] | None:
    with _STATE.lock:
        return _DRIFTS.get(logical_id)


def _clear_drifts() -> None:
    with _STATE.lock:
        _DRIFTS.clear()
