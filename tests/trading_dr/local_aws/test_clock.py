"""The drills' simulated clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from trading_dr.local_aws.clock import DRILL_EPOCH, SimClock, offset_label


def test_the_clock_moves_only_when_advanced() -> None:
    clock = SimClock()
    assert clock.now() == DRILL_EPOCH
    clock.advance(10)
    clock.advance(2.5)
    assert clock.now() == DRILL_EPOCH + timedelta(seconds=12.5)
    assert clock.offset_s == 12.5


def test_the_clock_never_goes_back_and_needs_utc() -> None:
    with pytest.raises(ValueError, match="forward"):
        SimClock().advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 1))


def test_advances_from_threads_are_all_counted() -> None:
    clock = SimClock()

    def tick() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.offset_s == 4000


@pytest.mark.parametrize(
    ("seconds", "label"), [(0, "T+00:00"), (59.9, "T+00:59"), (600, "T+10:00"), (3725, "T+62:05")]
)
def test_offset_label(seconds: float, label: str) -> None:
    assert offset_label(seconds) == label
