"""The background local AWS: started once, reused, replaced when stale, stopped; every
test runs real server processes in a state directory of its own (`background_state`)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.background import servers_of
from trading_dr import __version__
from trading_dr.errors import EndpointError, OutputError
from trading_dr.local_aws import daemon
from trading_dr.local_aws.server import LOCAL_CREDENTIALS


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def s3(endpoint_url: str) -> Any:
    session = boto3.Session(
        region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
    )
    return session.client("s3", endpoint_url=endpoint_url)


def record(directory: Path, pid: int, port: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "local-aws.json").write_text(
        json.dumps(
            {
                "pid": pid,
                "port": port,
                "endpoint_url": f"http://127.0.0.1:{port}",
                "started_at": "2026-01-01T00:00:00Z",
                "version": __version__,
            }
        )
    )


def test_a_start_is_told_once_and_later_commands_reuse_its_state(
    background_state: Path,
) -> None:
    told: list[str] = []

    # GIVEN no background local AWS; WHEN a command needs one
    first = daemon.ensure_running(told.append)

    # THEN it runs in a session of its own (the caller's Ctrl-C does not reach it), the
    # state file says where, and the user is told once how to stop it
    assert os.getsid(first.pid) == first.pid
    # and in the state directory, not the caller's (which `-m` would put on its sys.path)
    assert Path(f"/proc/{first.pid}/cwd").resolve() == background_state.resolve()
    recorded = json.loads((background_state / "local-aws.json").read_text())
    assert recorded == {
        "pid": first.pid,
        "port": first.port,
        "endpoint_url": f"http://127.0.0.1:{first.port}",
        "started_at": first.started_at,
        "version": __version__,
    }
    assert len(told) == 1
    assert f"pid {first.pid}" in told[0]
    assert str(background_state / "local-aws.log") in told[0]
    assert "trading-dr local-aws --stop" in told[0]

    # WHEN the first command made something, and a second command asks for the server
    s3(first.endpoint_url).create_bucket(Bucket="made-by-the-first-command")
    second = daemon.ensure_running(told.append)

    # THEN it is the same server, with the state, and nothing more is said
    assert second == first
    assert daemon.running() == first
    buckets = s3(second.endpoint_url).list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == ["made-by-the-first-command"]
    assert len(told) == 1
    assert servers_of(background_state) == [first.pid]


def test_stop_ends_the_server_and_removes_its_state_file(background_state: Path) -> None:
    started = daemon.ensure_running(lambda _: None)

    stopped = daemon.stop()

    assert stopped == daemon.Stopped(started, was_running=True)
    assert not daemon.pid_alive(started.pid)
    assert not (background_state / "local-aws.json").exists()
    assert daemon.running() is None
    # A second stop finds nothing, and says so without failing.
    assert daemon.stop() == daemon.Stopped(None, was_running=False)


def test_the_server_removes_its_state_file_when_signalled(background_state: Path) -> None:
    # The state file must not outlive the server, whoever stops it (kill PID, a shutdown).
    started = daemon.ensure_running(lambda _: None)

    os.kill(started.pid, signal.SIGTERM)

    deadline = time.monotonic() + 10
    while daemon.pid_alive(started.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not daemon.pid_alive(started.pid)
    assert not (background_state / "local-aws.json").exists()
    assert "stopping" in (background_state / "local-aws.log").read_text()


@pytest.fixture
def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("case", ["dead pid", "pid of another program", "unreadable file"])
def test_a_stale_state_file_is_replaced_by_a_new_server(
    background_state: Path, dead_pid: int, case: str
) -> None:
    # GIVEN a state file naming no usable server
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        if case == "unreadable file":
            background_state.mkdir(parents=True)
            (background_state / "local-aws.json").write_text('{"pid": ')
        else:
            record(background_state, dead_pid if case == "dead pid" else other.pid, closed_port())
        told: list[str] = []

        # WHEN a command needs the server
        started = daemon.ensure_running(told.append)

        # THEN a new one runs and is recorded; a reused pid's program is left alone
        assert started.pid not in {dead_pid, other.pid}
        assert daemon.running() == started
        assert other.poll() is None
        assert told[-1].startswith("started a background local AWS")
        if case != "unreadable file":
            assert "starting a new one, with nothing deployed" in told[0]
    finally:
        other.kill()
        other.wait()


def test_a_hung_server_is_stopped_before_a_new_one_starts(
    background_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon, "ANSWER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(daemon, "STOP_TIMEOUT_S", 0.5)
    hung = daemon.ensure_running(lambda _: None)
    os.kill(hung.pid, signal.SIGSTOP)  # listens (the kernel accepts), answers nothing
    told: list[str] = []

    started = daemon.ensure_running(told.append)

    assert started.pid != hung.pid
    assert not daemon.pid_alive(hung.pid)
    assert f"(pid {hung.pid}) does not answer at {hung.endpoint_url} (stopped it)" in told[0]
    assert servers_of(background_state) == [started.pid]


def test_concurrent_starts_give_one_server(background_state: Path) -> None:
    # GIVEN three commands that need the server at the same moment (processes of their own)
    script = textwrap.dedent(
        """
        from trading_dr.local_aws.daemon import ensure_running
        print(ensure_running(lambda line: None).pid)
        """
    )
    starters = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]

    pids = {starter.communicate(timeout=90)[0].strip() for starter in starters}

    # THEN they all got the one server, and only one runs
    assert [starter.returncode for starter in starters] == [0, 0, 0]
    (pid,) = pids
    assert servers_of(background_state) == [int(pid)]
    assert daemon.running() is not None
    assert daemon.stop().was_running


def test_stop_leaves_a_program_that_reused_the_recorded_pid_alone(
    background_state: Path,
) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record(background_state, other.pid, closed_port())

        stopped = daemon.stop()

        assert stopped.was_running is False
        assert stopped.state is not None
        assert stopped.state.pid == other.pid
        assert other.poll() is None
        assert not (background_state / "local-aws.json").exists()
    finally:
        other.kill()
        other.wait()


def test_a_server_that_exits_at_once_is_reported_with_its_log(background_state: Path) -> None:
    failing = [
        sys.executable,
        "-c",
        "import sys; print('error: no port for you; fix: free one'); sys.exit(2)",
    ]

    with pytest.raises(EndpointError) as caught:
        daemon.ensure_running(lambda _: None, command=failing)

    message = str(caught.value)
    assert "exited (code 2) before it answered" in message
    assert "its log ends: error: no port for you; fix: free one" in message
    assert f"fix: see {background_state / 'local-aws.log'}" in message
    assert not (background_state / "local-aws.json").exists()


def test_a_server_that_never_answers_is_stopped_after_the_timeout(
    background_state: Path,
) -> None:
    silent = [sys.executable, "-c", "import time; time.sleep(60)"]

    with pytest.raises(EndpointError) as caught:
        daemon.ensure_running(lambda _: None, timeout_s=1, command=silent)

    match = re.search(
        r"\(pid (\d+)\) did not answer within 1 s, and was stopped", str(caught.value)
    )
    assert match, caught.value
    assert not daemon.pid_alive(int(match[1]))
    assert str(background_state / "local-aws.log") in str(caught.value)


def test_a_held_lock_is_waited_for_then_reported(
    background_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    monkeypatch.setattr(daemon, "LOCK_TIMEOUT_S", 0.3)
    background_state.mkdir(parents=True)
    with (background_state / "local-aws.lock").open("a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)

        with pytest.raises(EndpointError, match="another trading-dr command has held"):
            daemon.ensure_running(lambda _: None)

    assert servers_of(background_state) == []


def test_an_unusable_state_directory_is_refused(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")

    with pytest.raises(OutputError, match="fix: make it writable or set TRADING_DR_STATE_DIR"):
        daemon.ensure_running(lambda _: None, directory=not_a_directory / "state")


def test_a_server_of_another_version_is_reused_with_a_warning(background_state: Path) -> None:
    started = daemon.ensure_running(lambda _: None)
    recorded = json.loads((background_state / "local-aws.json").read_text())
    (background_state / "local-aws.json").write_text(json.dumps({**recorded, "version": "0.0.1"}))
    told: list[str] = []

    reused = daemon.ensure_running(told.append)

    assert reused.pid == started.pid
    assert told == [
        f"warning: the background local AWS was started by trading-dr 0.0.1, this is "
        f"{__version__}; restart it with `trading-dr local-aws --stop` if it behaves unexpectedly"
    ]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ("pid", "port", "endpoint_url", "started_at", "version")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.one_of(
        st.binary(max_size=64),
        JSON.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, JSON)).map(
            lambda value: json.dumps(value).encode()
        ),
        st.builds(
            lambda pid, port, host: json.dumps(
                {
                    "pid": pid,
                    "port": port,
                    "endpoint_url": f"http://{host}:{port}",
                    "started_at": "2026-01-01T00:00:00Z",
                    "version": "0.1.0",
                }
            ).encode(),
            st.integers(min_value=-(2**64), max_value=2**64),
            st.integers(min_value=-(2**17), max_value=2**17),
            st.sampled_from(["127.0.0.1", "localhost", "10.0.0.1", "example.com"]),
        ),
    )
)
def test_a_state_file_is_trusted_only_for_a_plausible_local_server(
    tmp_path: Path, content: bytes
) -> None:
    # Whatever the file holds, reading it never fails, and what is taken from it can only
    # signal one ordinary process and only send calls to this machine's loopback.
    paths = daemon.state_paths(tmp_path)
    paths.state.write_bytes(content)

    state = daemon.read_state(paths)

    if state is not None:
        assert 1 < state.pid < 2**31
        assert 0 < state.port <= 65535
        assert state.endpoint_url == f"http://127.0.0.1:{state.port}"
        daemon.pid_alive(state.pid)  # no OverflowError, no process group signalled
