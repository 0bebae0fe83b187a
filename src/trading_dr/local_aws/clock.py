"""Simulated time for drills: alarms over minutes, evaluated in milliseconds.

A `SimClock` is a fixed start instant plus an offset in seconds. Nothing in a drill sleeps:
the drill loop advances the clock one step (10 s, the shortest alarm period the templates
use) at a time, and the failover workflow's Wait states advance it by the seconds they ask
for (local_aws/global_failover.py `on_wait`). Everything that stamps or reads time in the
local AWS during a drill reads this clock: CloudWatch's receipt time of a datapoint sent
without a Timestamp (as AWS stamps "the time the metric data was received"), the alarm
evaluation, the validator's `now`, the timeline's offsets. Thread-safe: Step Functions
executions run on moto's worker threads.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

# A fixed instant, so a drill's timeline and its metric timestamps are the same every run.
DRILL_EPOCH = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


class SimClock:
    def __init__(self, start: datetime = DRILL_EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware (UTC)")
        self._start = start
        self._offset_s = 0.0
        self._lock = threading.Lock()

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def offset_s(self) -> float:
        with self._lock:
            return self._offset_s

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.offset_s)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"time only moves forward; got {seconds} s")
        with self._lock:
            self._offset_s += seconds


def offset_label(offset_s: float) -> str:
    """`T+mm:ss` (minutes may exceed 59: drills are short)."""
    whole = int(offset_s)
    return f"T+{whole // 60:02d}:{whole % 60:02d}"
