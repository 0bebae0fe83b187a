"""The background local AWS: one that outlives the command that started it (`--local`).

The first `--local` command starts `python -m trading_dr.local_aws.daemon` detached (a
session of its own, so the caller's Ctrl-C does not reach it; output to a log file) and,
once it answers, finds where it listens in a state file that the server itself writes when
it is listening. Later commands reuse it, so a deployment made by one command is there
for the next, until `trading-dr local-aws --stop`. A lock file (flock) serialises starts
and stops: two concurrent `--local` commands never start two servers. The state
directory is `~/.cache/trading-dr`, or `$TRADING_DR_STATE_DIR`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from trading_dr import __version__
from trading_dr.errors import EndpointError, OutputError, TradingDrError
from trading_dr.local_aws.server import LOCAL_HOST

STATE_DIR_VARIABLE = "TRADING_DR_STATE_DIR"
DEFAULT_STATE_DIR = Path("~/.cache/trading-dr")
MODULE = "trading_dr.local_aws.daemon"
# Importing moto and starting its server takes about 3 s on an idle machine.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# A start or stop holds the lock at most that long (stop may SIGKILL after its timeout).
LOCK_TIMEOUT_S = START_TIMEOUT_S + 2 * STOP_TIMEOUT_S
# The server answers each request on a thread of its own: no answer in this time means it
# is hung or is not the local AWS.
ANSWER_TIMEOUT_S = 5.0
POLL_S = 0.1
MAX_PID = 2**31 - 1  # pid_t; a larger number overflows os.kill

# Processes this process started: they must be reaped (poll) to be seen gone, as an
# exited child stays a zombie that kill(pid, 0) still finds.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Background:
    """What the state file records about a running background local AWS."""

    pid: int
    port: int
    endpoint_url: str
    started_at: str
    version: str

    def describe(self, paths: StatePaths) -> str:
        return (
            f"{self.endpoint_url} (pid {self.pid}, started {self.started_at} by trading-dr "
            f"{self.version}, log {paths.log})"
        )


@dataclass(frozen=True)
class StatePaths:
    directory: Path

    @property
    def state(self) -> Path:
        return self.directory / "local-aws.json"

    @property
    def lock(self) -> Path:
        return self.directory / "local-aws.lock"

    @property
    def log(self) -> Path:
        return self.directory / "local-aws.log"


def state_paths(directory: Path | None = None) -> StatePaths:
    """Where the state lives: `directory`, else $TRADING_DR_STATE_DIR, else the default."""
    if directory is None:
        directory = Path(os.environ.get(STATE_DIR_VARIABLE) or DEFAULT_STATE_DIR)
    return StatePaths(directory.expanduser().absolute())


def _make_directory(paths: StatePaths) -> None:
    try:
        paths.directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the local AWS state directory {paths.directory}: "
            f"{exc.strerror or exc}; fix: make it writable or set {STATE_DIR_VARIABLE} to "
            "a writable directory"
        ) from exc


@contextmanager
def _locked(paths: StatePaths) -> Iterator[None]:
    _make_directory(paths)
    timeout_s = LOCK_TIMEOUT_S
    with paths.lock.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EndpointError(
                        f"another trading-dr command has held {paths.lock} for over "
                        f"{timeout_s:.0f} s while starting or stopping the background local "
                        "AWS; fix: wait for it, or end it (`fuser` names it) and retry"
                    ) from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state(paths: StatePaths) -> Background | None:
    """The recorded server, or None (no file; an unreadable or implausible one is as good
    as none: it is written atomically, so this module did not write it). The pid is
    signalled and the URL receives every call, so neither is taken on trust: pid 0, -1
    or 1 would signal a process group, every process or init, and another URL than this
    machine's loopback would send the deployer elsewhere."""
    try:
        data = json.loads(paths.state.read_text())
        pid, port, url = data["pid"], data["port"], data["endpoint_url"]
        started_at, version = data["started_at"], data["version"]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    if not (_is_int(pid) and 1 < pid <= MAX_PID and _is_int(port) and 0 < port <= 65535):
        return None
    if url != f"http://{LOCAL_HOST}:{port}" or not isinstance(started_at, str):
        return None
    if not isinstance(version, str):
        return None
    return Background(pid, port, url, started_at, version)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _write_state(paths: StatePaths, state: Background) -> None:
    """Temp file and rename: a reader sees the whole record or none."""
    temporary = paths.state.with_name(f".{paths.state.name}.{os.getpid()}.tmp")
    with temporary.open("w") as handle:
        json.dump(asdict(state), handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(paths.state)


def _remove_state_of(paths: StatePaths, pid: int) -> None:
    """Remove the state file if it still records `pid` (a newer server's stays)."""
    recorded = read_state(paths)
    if recorded is not None and recorded.pid == pid:
        paths.state.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    try:  # an exited process not yet reaped by its parent is no server
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_daemon(pid: int) -> bool | None:
    """Whether `pid` runs this module (None where /proc cannot tell): a recorded pid may
    have been reused by an unrelated process, which must not be signalled."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return MODULE.encode() in command


def answers(endpoint_url: str) -> bool:
    """Whether moto's server answers at `endpoint_url` (its dashboard; never via a proxy:
    the endpoint is on this machine)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{endpoint_url}/moto-api/", timeout=ANSWER_TIMEOUT_S) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def running(directory: Path | None = None) -> Background | None:
    """The background local AWS if it runs and answers, else None."""
    paths = state_paths(directory)
    state = read_state(paths)
    if state is not None and pid_alive(state.pid) and answers(state.endpoint_url):
        return state
    return None


def ensure_running(
    notify: Callable[[str], None],
    directory: Path | None = None,
    timeout_s: float | None = None,
    command: list[str] | None = None,
) -> Background:
    """The running background local AWS, started if there is none (told once through
    `notify`). `command` replaces the server's command line (tests of failing starts)."""
    paths = state_paths(directory)
    with _locked(paths):
        state = read_state(paths)
        if state is not None:
            if pid_alive(state.pid) and answers(state.endpoint_url):
                if state.version != __version__:
                    notify(
                        f"warning: the background local AWS was started by trading-dr "
                        f"{state.version}, this is {__version__}; restart it with "
                        "`trading-dr local-aws --stop` if it behaves unexpectedly"
                    )
                return state
            _replace_stale(paths, state, notify)
        started = _start(paths, START_TIMEOUT_S if timeout_s is None else timeout_s, command)
    notify(
        f"started a background local AWS at {started.endpoint_url} (pid {started.pid}, "
        f"log {paths.log}); its state lasts across --local commands; stop it with "
        "`trading-dr local-aws --stop`"
    )
    return started


def _replace_stale(paths: StatePaths, state: Background, notify: Callable[[str], None]) -> None:
    if not pid_alive(state.pid):
        reason = "is gone"
    else:
        reason = f"does not answer at {state.endpoint_url}"
        if _is_daemon(state.pid):  # hung: a second server beside it would only add to it
            _terminate(state.pid, STOP_TIMEOUT_S)
            reason += " (stopped it)"
    notify(
        f"the background local AWS recorded in {paths.state} (pid {state.pid}) {reason}; "
        "starting a new one, with nothing deployed"
    )
    paths.state.unlink(missing_ok=True)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


def _start(paths: StatePaths, timeout_s: float, command: list[str] | None) -> Background:
    argv = command or [sys.executable, "-m", MODULE, "--state-dir", str(paths.directory)]
    with paths.log.open("wb") as log:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the caller's terminal signals (Ctrl-C) do not reach it
            close_fds=True,  # in particular not the lock: it must not outlive this start
            # Not the caller's directory: `-m` puts it first on sys.path, and a long-lived
            # process would keep it in use.
            cwd=paths.directory,
        )
    _children[child.pid] = child
    deadline = time.monotonic() + timeout_s
    while True:
        state = read_state(paths)
        if state is not None and state.pid == child.pid and answers(state.endpoint_url):
            return state
        code = child.poll()
        if code is not None:
            tail = _log_tail(paths.log)
            raise EndpointError(
                f"the background local AWS exited (code {code}) before it answered"
                + (f"; its log ends: {tail}" if tail else "")
                + f"; fix: see {paths.log}, correct the cause and retry"
            )
        if time.monotonic() > deadline:
            _terminate(child.pid, STOP_TIMEOUT_S)
            raise EndpointError(
                f"the background local AWS (pid {child.pid}) did not answer within "
                f"{timeout_s:.0f} s, and was stopped; fix: see {paths.log}; on a loaded "
                "machine, retry"
            )
        time.sleep(POLL_S)


def _terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout_s`."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, STOP_TIMEOUT_S)):
        with suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while pid_alive(pid):
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_S / 2)
        else:
            _children.pop(pid, None)
            return
    raise EndpointError(
        f"process {pid} (the background local AWS) survived SIGKILL; fix: check it with "
        f"`ps -p {pid}`"
    )


@dataclass(frozen=True)
class Stopped:
    state: Background | None  # what the state file recorded, if there was one
    was_running: bool


def stop(directory: Path | None = None) -> Stopped:
    """Stop the background local AWS and remove its state file."""
    paths = state_paths(directory)
    if not paths.state.exists():
        return Stopped(None, False)
    with _locked(paths):
        state = read_state(paths)
        was_running = False
        if state is not None and pid_alive(state.pid):
            # Signal only what is provably the server: the pid may have been reused.
            ours = _is_daemon(state.pid)
            if ours or (ours is None and answers(state.endpoint_url)):
                _terminate(state.pid, STOP_TIMEOUT_S)
                was_running = True
        paths.state.unlink(missing_ok=True)
    return Stopped(state, was_running)


def provide_every_environment(server: Any) -> list[str]:
    """What every environments/*.yaml references as pre-existing, made in `server`."""
    from trading_dr.generator import DEFAULT_ENVIRONMENTS, select_environments

    return [
        item
        for env in select_environments(DEFAULT_ENVIRONMENTS, [])
        for item in server.provide(env)
    ]


def require_provided(clients: Any, env: Any) -> None:
    """The background server provided what `env` references at its start; an environment
    file added since (or a reset server) lacks it, and the rollout would fail later and
    less clearly."""
    if env.hosted_zone_id is None:
        return
    route53 = clients.client("route53", env.primary.region)
    try:
        route53.get_hosted_zone(Id=env.hosted_zone_id)
    except route53.exceptions.NoSuchHostedZone:
        raise EndpointError(
            f"the background local AWS has no hosted zone {env.hosted_zone_id}, which "
            f"{env.name} references as pre-existing (it provides what the environments "
            "name when it starts); fix: `trading-dr local-aws --stop`, then retry (a new "
            "one starts with nothing deployed)"
        ) from None


def serve(directory: Path, port: int = 0, out: IO[str] = sys.stdout) -> None:
    """The server's side: listen, provide the environments, record where, and run until
    SIGTERM (or SIGINT, SIGHUP); the state file goes before the server stops."""
    from trading_dr.local_aws.server import LocalAws

    paths = state_paths(directory)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    server = LocalAws(port=port).start()
    try:
        for item in provide_every_environment(server):
            print(f"pre-existing for the environments: {item}", file=out, flush=True)
        state = Background(
            pid=os.getpid(),
            port=int(server.endpoint_url.rsplit(":", 1)[1]),
            endpoint_url=server.endpoint_url,
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            version=__version__,
        )
        _write_state(paths, state)
        print(f"listening on {state.endpoint_url}; state file {paths.state}", file=out, flush=True)
        while not stopping.wait(0.5):
            pass
        print("stopping", file=out, flush=True)
    finally:
        _remove_state_of(paths, os.getpid())
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=serve.__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        serve(args.state_dir, args.port)
    except TradingDrError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
