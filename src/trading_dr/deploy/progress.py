"""Progress of a rollout: a live rich table on a terminal, timestamped lines otherwise.

Both show, per stage, its status, elapsed time and detail (instances, operation), and
keep failure reasons visible: the plain form prints them, the live form keeps them
under the table until the command ends.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Protocol


class Progress(Protocol):
    def update(self, stage: str, status: str, detail: str = "") -> None: ...

    def reasons(self, stage: str, lines: list[str]) -> None: ...

    def event(self, stage: str, line: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class PlainProgress:
    """One timestamped line per change, for logs and CI."""

    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    _last: dict[str, tuple[str, str]] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)

    def _line(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()

    def update(self, stage: str, status: str, detail: str = "") -> None:
        started = self._started.setdefault(stage, time.monotonic())
        if self._last.get(stage) == (status, detail):
            return  # polling: print changes only
        self._last[stage] = (status, detail)
        elapsed = time.monotonic() - started
        self._line(f"{stage:<9} {status:<10} {elapsed:6.1f}s {detail}".rstrip())

    def reasons(self, stage: str, lines: list[str]) -> None:
        for line in lines:
            self._line(f"{stage:<9} reason     {line}")

    def event(self, stage: str, line: str) -> None:
        self._line(f"{stage:<9} event      {line}")

    def close(self) -> None:
        return None


EVENTS_SHOWN = 8  # under the live table: the latest stack events


class RichProgress:
    """A live table (rich) while the rollout runs."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console()
        self._rows: dict[str, list[str]] = {}
        self._started: dict[str, float] = {}
        self._reasons: list[tuple[str, str]] = []
        self._events: list[tuple[str, str]] = []  # the latest few stack events
        self._live = Live(self._render(), console=self._console, refresh_per_second=4)
        self._live.start()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table("stage", "status", "elapsed", "detail", title="trading-dr rollout")
        for stage, (status, elapsed, detail) in self._rows.items():
            style = {"failed": "red", "unchanged": "dim"}.get(status, "")
            table.add_row(stage, Text(status, style=style), elapsed, detail)
        events = [Text(f"{s}: {e}", style="dim") for s, e in self._events]
        reasons = [Text(f"{s}: {r}", style="red") for s, r in self._reasons]
        return Group(table, *events, *reasons)

    def update(self, stage: str, status: str, detail: str = "") -> None:
        started = self._started.setdefault(stage, time.monotonic())
        self._rows[stage] = [status, f"{time.monotonic() - started:.1f}s", detail]
        self._live.update(self._render())

    def reasons(self, stage: str, lines: list[str]) -> None:
        self._reasons += [(stage, line) for line in lines]
        self._live.update(self._render())

    def event(self, stage: str, line: str) -> None:
        self._events = [*self._events, (stage, line)][-EVENTS_SHOWN:]
        self._live.update(self._render())

    def close(self) -> None:
        self._live.stop()


def make_progress(stream: IO[str]) -> Progress:
    return RichProgress() if stream.isatty() else PlainProgress(stream)
