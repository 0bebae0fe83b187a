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


@dataclass
class _Faults:
    lock: threading.Lock = field(default_factory=threading.Lock)
    resources: list[ResourceFault] = field(default_factory=list)
    # action name (e.g. "CreateStackInstances") -> queued (error code, message)
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    operation_seconds: float = 0.0


_STATE = _Faults()


def fail_resource(logical_id: str, reason: str, times: int = 1) -> None:
    """The next `times` creates/updates of resource `logical_id` fail with `reason`."""
    with _STATE.lock:
        _STATE.resources.append(ResourceFault(logical_id, reason, times))


def fail_call(action: str, code: str, message: str = "injected fault", times: int = 1) -> None:
    """The next `times` calls of CloudFormation `action` answer error `code`.

    e.g. fail_call("CreateStackInstances", "Throttling", "Rate exceeded", 2).
    """
    with _STATE.lock:
        _STATE.errors.setdefault(action, []).extend([(code, message)] * times)


def set_operation_seconds(seconds: float) -> None:
    """StackSet operations report RUNNING for this long (default 0: done at once)."""
    with _STATE.lock:
        _STATE.operation_seconds = seconds


def operation_seconds() -> float:
    with _STATE.lock:
        return _STATE.operation_seconds


def take_resource_fault(logical_id: str) -> str | None:
    """The reason to fail `logical_id` now, consuming one use of its fault; else None."""
    with _STATE.lock:
        for fault in _STATE.resources:
            if fault.logical_id == logical_id and fault.times > 0:
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
        _STATE.operation_seconds = 0.0
