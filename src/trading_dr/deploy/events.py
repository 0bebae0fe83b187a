"""Stack events of the stack instances: followed while an operation runs, and the
failures of a failed operation, earliest first.

DescribeStackEvents answers newest first, one page at a time (NextToken). A rollback of
a large stack adds hundreds of DELETE and "Resource creation cancelled" events after the
root cause, so the first page rarely holds it: both readers page back until they reach
an event older than the operation, or one already shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trading_dr.deploy.retry import Pacing, call

CANCELLED = "Resource creation cancelled"


@dataclass(frozen=True)
class StackEvent:
    timestamp: datetime
    where: str  # account/region of the stack instance
    logical_id: str
    resource_type: str
    status: str
    reason: str
    event_id: str

    @classmethod
    def of(cls, raw: dict[str, Any], where: str) -> StackEvent:
        return cls(
            timestamp=raw["Timestamp"],
            where=where,
            logical_id=str(raw.get("LogicalResourceId", "")),
            resource_type=str(raw.get("ResourceType", "?")),
            status=str(raw.get("ResourceStatus", "")),
            reason=str(raw.get("ResourceStatusReason") or ""),
            event_id=str(raw["EventId"]),
        )

    @property
    def failed(self) -> bool:
        return self.status.endswith("FAILED")

    def line(self) -> str:
        stamp = self.timestamp.strftime("%H:%M:%S")
        text = f"{stamp} {self.where} {self.logical_id} ({self.resource_type}) {self.status}"
        return f"{text}: {self.reason}" if self.reason else text

    def failure(self) -> str:
        return (
            f"{self.where} {self.logical_id} ({self.resource_type}): {self.status}: {self.reason}"
        )


def events_since(
    cfn: Any,
    pacing: Pacing,
    stack_id: str,
    where: str,
    since: datetime | None,
    seen: set[str] | None = None,
) -> list[StackEvent]:
    """The stack's events from `since` on that are not in `seen`, oldest first: every
    page back to the first event older than `since` (or already seen)."""
    newest_first: list[StackEvent] = []
    # Events are added while we page: a later page can repeat the tail of an earlier one.
    collected: set[str] = set()
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"StackName": stack_id}
        if token:
            kwargs["NextToken"] = token
        page = call(pacing, cfn.describe_stack_events, **kwargs)
        for raw in page.get("StackEvents", []):
            if (seen is not None and raw["EventId"] in seen) or (
                since is not None and raw["Timestamp"] < since
            ):
                return newest_first[::-1]
            if raw["EventId"] in collected:
                continue
            collected.add(raw["EventId"])
            newest_first.append(StackEvent.of(raw, where))
        token = page.get("NextToken")
        if not token:
            return newest_first[::-1]


@dataclass
class EventFollower:
    """What has been shown of each stack's events during one operation."""

    since: datetime | None = None
    seen: set[str] = field(default_factory=set)

    def new(self, cfn: Any, pacing: Pacing, stack_id: str, where: str) -> list[StackEvent]:
        events = events_since(cfn, pacing, stack_id, where, self.since, self.seen)
        self.seen.update(e.event_id for e in events)
        return events


def failure_reasons(events: Iterable[StackEvent], operation_reasons: list[str]) -> list[str]:
    """The earliest failure first (the root cause), then what the operation reported,
    then the later failures; "Resource creation cancelled" ones are counted, not listed."""
    failed = sorted((e for e in events if e.failed), key=lambda e: e.timestamp)
    if not failed:
        return list(operation_reasons)
    first, later = failed[0], failed[1:]
    cancelled = [e for e in later if e.reason.startswith(CANCELLED)]
    lines = [f"earliest failure: {first.failure()}", *operation_reasons]
    lines += [e.failure() for e in later if e not in cancelled]
    if cancelled:
        lines.append(f"{len(cancelled)} resource(s) cancelled after it ({CANCELLED})")
    return lines
