"""The local AWS of a failover drill: both regions and the observer, on simulated time.

`DrillWorld` deploys, into an in-process moto (`mock_aws`), what a drill needs of the
rendered templates of one environment (drill_deploy.py, drill_route53.py) and then runs
AWS's own machinery, one 10 s step of simulated time (clock.py) at a time (drill_step.py).
The network is a model (drill_network.py): down regions run nothing, and every AWS call
addressed to one fails to connect and is recorded in `refused`. What the drill's actors do
is here: the failover workflow started and followed to its end, and the validator's
handler the workflow invokes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import boto3
from moto import mock_aws
from moto.cloudwatch import models as cloudwatch_models

from trading_dr.config import Environment, Role
from trading_dr.local_aws import drill_step
from trading_dr.local_aws.clock import SimClock
from trading_dr.local_aws.drill_deploy import Deployment
from trading_dr.local_aws.drill_model import (
    DEFAULT_LAG_MS,
    LAMBDA_SRC,
    MOTO_CONFIG,
    RUN_TIMEOUT_S,
    STEP_S,
    DrillError,
    Entry,
    Page,
    Run,
    Stack,
    load_lambda,
    naive,
)
from trading_dr.local_aws.drill_network import (
    down_regions_refuse,
    endpoint_status,
    validator_invocations,
)
from trading_dr.local_aws.drill_route53 import route53_config
from trading_dr.local_aws.global_failover import FailoverControl, local_failover
from trading_dr.local_aws.route53_health import FailoverAnswer, failover_answer

__all__ = ["DrillError", "DrillWorld", "Entry", "Page", "Run", "Stack", "drill_world"]


class DrillWorld:
    def __init__(
        self,
        env: Environment,
        templates: Mapping[Role, dict[str, Any]],
        clock: SimClock,
        control: FailoverControl,
    ) -> None:
        self.env, self.templates, self.clock, self.control = env, templates, clock, control
        self.validator_logic = load_lambda(
            "drill_validator_logic", LAMBDA_SRC / "validator" / "validator_logic.py"
        )
        self.observer_probe = load_lambda(
            "drill_observer_probe", LAMBDA_SRC / "observer" / "observer_probe.py"
        )
        self.down: set[str] = set()
        self.cut: set[tuple[str, str]] = set()
        self.lag_ms = DEFAULT_LAG_MS
        self.timeline: list[Entry] = []
        self.pages: list[Page] = []
        self.runs: list[Run] = []
        self.answers: list[tuple[float, FailoverAnswer]] = []
        # (offset, region, "service.Operation"): calls addressed to a region that was down.
        self.refused: list[tuple[float, str, str]] = []
        self.health_history: dict[str, list[tuple[float, bool]]] = {}
        self._t0 = 0.0
        self._recording = False
        self._readiness_gate: threading.Event | None = None
        self._readiness_reached = threading.Event()
        self.global_id = f"trading-{env.suffix}-global"
        deployment = Deployment(env, templates, self.global_id, self.validator_logic)
        self.stacks: dict[str, Stack] = {}
        for role in (Role.PRIMARY, Role.SECONDARY):
            deployment.create_cluster(role)
        for role in (Role.PRIMARY, Role.SECONDARY):
            stack = deployment.stack(role)
            self.stacks[stack.region] = stack
        self.observer = deployment.observer_settings()
        self.route53 = route53_config(self.stacks)

    # -- the world's state ------------------------------------------------------------------
    def writer_region(self) -> str | None:
        arn = self.control.writer_arn(self.global_id)
        return next((s.region for s in self.stacks.values() if s.cluster_arn == arn), None)

    def status(self, vantage: str, url: str) -> int:
        """The HTTP status a GET of `url` from `vantage` gets (0: no answer)."""
        return endpoint_status(self.route53.domains, self.down, self.cut, vantage, url)

    def health(self) -> dict[str, bool]:
        return {
            **{k: c.healthy for k, c in self.route53.endpoint_checks.items()},
            **{k: c.healthy for k, c in self.route53.alarm_checks.items()},
            **{k: c.healthy for k, c in self.route53.calculated_checks.items()},
        }

    def dns_answer(self) -> FailoverAnswer:
        return failover_answer(self.route53.records, self.health())

    def answer_region(self) -> str:
        return self.dns_answer().record.set_identifier

    # -- the timeline ------------------------------------------------------------------------
    def begin(self) -> None:
        """T+0: from here on, what happens is the drill's timeline."""
        self.drain_pages()
        self.pages.clear()
        self._t0 = self.clock.offset_s
        self._recording = True
        answer = self.dns_answer()
        self.note("rds", f"global cluster {self.global_id}: writer in {self.writer_region()}")
        self.note(
            "route53",
            f"DNS {answer.record.name} answers {answer.record.set_identifier} ({answer.reason})",
        )

    @property
    def offset_s(self) -> float:
        return self.clock.offset_s - self._t0

    def note(self, where: str, what: str) -> None:
        if self._recording:
            self.timeline.append(Entry(self.offset_s, where, what))

    # -- simulated time ----------------------------------------------------------------------
    def run_for(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        deadline = self.clock.offset_s + seconds
        while self.clock.offset_s < deadline:
            self.step()
            if until is not None and until():
                return

    def step(self) -> None:
        drill_step.step(self, STEP_S)

    def drain_pages(self) -> None:
        drill_step.drain_pages(self)

    # -- the failover workflow --------------------------------------------------------------
    def start_run(self, region: str, payload: Mapping[str, Any], trigger: str) -> Run:
        stack = self.stacks[region]
        if region in self.down:
            raise DrillError(f"{region} is down: its workflow cannot start")
        arn = boto3.client("stepfunctions", region).start_execution(
            stateMachineArn=stack.machine_arn,
            name=f"drill-{uuid.uuid4().hex[:12]}",
            input=json.dumps(payload),
        )["executionArn"]
        run = Run(region, arn, str(payload.get("mode")), trigger, self.offset_s)
        self.runs.append(run)
        flag = " accept_data_loss" if payload.get("accept_data_loss") is True else ""
        self.note(
            region, f"workflow {arn.rsplit(':', 1)[-1]} started ({run.mode}{flag}) by {trigger}"
        )
        return run

    def wait(self, run: Run) -> Run:
        sfn = boto3.client("stepfunctions", run.region)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            described = sfn.describe_execution(executionArn=run.arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise DrillError(f"execution {run.arn} still RUNNING after {RUN_TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        run.status = described["status"]
        run.error, run.cause = described.get("error", ""), described.get("cause", "")
        try:
            run.outcome = (
                json.loads(described.get("output") or "{}").get("result", {}).get("outcome", "")
            )
        except (ValueError, AttributeError):
            run.outcome = ""
        detail = run.outcome or f"{run.error}: {run.cause}"
        self.note(run.region, f"workflow {run.arn.rsplit(':', 1)[-1]} {run.status}: {detail}")
        self.drain_pages()
        return run

    def operator(self, role: Role, mode: str, *, accept_data_loss: bool = False) -> Run:
        """What `trading-dr failover` starts (same input), followed to its end."""
        payload: dict[str, Any] = {"mode": mode, "trigger": "trading-dr-cli"}
        if accept_data_loss:
            payload["accept_data_loss"] = True
        return self.wait(self.start_run(self.env.region_of(role), payload, "the operator"))

    @contextmanager
    def readiness_held(self) -> Iterator[threading.Event]:
        """Hold every run at its readiness check until the caller lets it go: a second
        trigger can then arrive while the first run holds the lock."""
        gate = threading.Event()
        self._readiness_gate, self._readiness_reached = gate, threading.Event()
        try:
            yield self._readiness_reached
        finally:
            gate.set()
            self._readiness_gate = None

    def validator(self, region: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """The validator's handler (lambda_src/validator), on the drill's clock and network."""
        stack = self.stacks[region]
        action = event.get("action", "readiness")
        if action not in ("readiness", "verify"):
            raise DrillError(f"the drill's validator does not run action {action!r}")
        gate = self._readiness_gate
        if action == "readiness" and gate is not None:
            self._readiness_reached.set()
            gate.wait(RUN_TIMEOUT_S)
        answer: dict[str, Any] = self.validator_logic.dispatch(
            stack.clients,
            stack.settings,
            event,
            lambda url: self.status(region, url),
            now=self.clock.now(),
        )
        return answer


@contextmanager
def drill_world(
    env: Environment, templates: Mapping[Role, dict[str, Any]], clock: SimClock | None = None
) -> Iterator[DrillWorld]:
    """A fresh local AWS (in-process moto) with the environment deployed for a drill."""
    clock = clock or SimClock()
    holder: dict[str, DrillWorld] = {}
    original_utcnow = cloudwatch_models.utcnow  # type: ignore[attr-defined]
    # moto logs every error a state machine catches; the drill's timeline reports runs.
    moto_sfn_log = logging.getLogger("moto.stepfunctions")
    level = moto_sfn_log.level
    moto_sfn_log.setLevel(logging.CRITICAL)
    with ExitStack() as stack:
        stack.callback(moto_sfn_log.setLevel, level)
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        control = stack.enter_context(local_failover(on_wait=clock.advance))
        stack.callback(setattr, cloudwatch_models, "utcnow", original_utcnow)
        stack.enter_context(validator_invocations(lambda: holder.get("world")))
        stack.enter_context(down_regions_refuse(lambda: holder.get("world")))
        cloudwatch_models.utcnow = lambda: naive(clock.now())  # type: ignore[attr-defined]
        world = DrillWorld(env, templates, clock, control)
        holder["world"] = world
        yield world
