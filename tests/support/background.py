"""A state directory of its own for the background local AWS (`--local`), per test.

The test's commands start their server there, never in the user's ~/.cache; afterwards
every server the test started is killed, whether the test passed or not: every process
serving that directory (found in /proc, also those started by a subprocess of the test or
not recorded in the state file), and every child this process spawned.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from trading_dr.local_aws import daemon


def servers_of(directory: Path) -> list[int]:
    """Every live process on this machine serving `directory` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if daemon.MODULE.encode() in argv and str(directory).encode() in argv:
            found.append(int(entry.name))
    return sorted(pid for pid in found if daemon.pid_alive(pid))


def kill_left_behind(directory: Path) -> None:
    for pid in servers_of(directory):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid, child in list(daemon._children.items()):
        child.kill()
        child.wait(timeout=10)
        del daemon._children[pid]
    (directory / "local-aws.json").unlink(missing_ok=True)


@pytest.fixture
def background_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "state"
    monkeypatch.setenv(daemon.STATE_DIR_VARIABLE, str(directory))
    try:
        yield directory
    finally:
        kill_left_behind(directory)
