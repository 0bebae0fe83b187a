"""What a failover drill's local AWS is made of: its constants, its records (the timeline,
the pages, the workflow runs) and one regional stack as the drill deployed it.

The modules of the drill's world: drill_deploy.py puts the rendered templates into moto,
drill_network.py models the network and refuses calls to a region that is down,
drill_step.py runs AWS's own machinery one step at a time, and drill_world.py composes
them into the `DrillWorld` the scenarios (drill.py) drive.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from trading_dr.config import Role
from trading_dr.local_aws import alarm_rule
from trading_dr.local_aws.alarm_eval import MetricAlarm
from trading_dr.local_aws.clock import offset_label
from trading_dr.local_aws.intrinsics import Resolver

STEP_S = 10
LAMBDA_SRC = Path(__file__).resolve().parents[3] / "lambda_src"
HOSTED_ZONE_ID = "Z0DRILLZONE"
DEFAULT_LAG_MS = 2_000.0
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
RUN_TIMEOUT_S = 60.0  # wall time: a run that takes longer is stuck, not slow


class DrillError(RuntimeError):
    pass


def load_lambda(name: str, path: Path) -> ModuleType:
    """A Lambda source file as a module of its own (each function is its own zip root)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise DrillError(f"cannot load {path}")
    if name in sys.modules:
        return sys.modules[name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Entry:
    offset_s: float
    where: str
    what: str

    def line(self) -> str:
        return f"{offset_label(self.offset_s)}  {self.where:<10} {self.what}"

    def as_json(self) -> dict[str, Any]:
        return {"offset_s": self.offset_s, "where": self.where, "what": self.what}


@dataclass
class Page:
    offset_s: float
    region: str
    subject: str
    message: str


@dataclass
class Run:
    region: str
    arn: str
    mode: str
    trigger: str
    started_s: float = 0.0  # the drill's offset when it started
    status: str = "RUNNING"
    outcome: str = ""
    error: str = ""
    cause: str = ""


@dataclass
class Composite:
    name: str
    rule: alarm_rule.Expr
    props: dict[str, Any]


@dataclass
class Stack:
    """One regional stack as the drill deployed it."""

    role: Role
    region: str
    peer: str
    template: dict[str, Any]
    resolve: Resolver
    cluster_id: str
    cluster_arn: str
    topic_arn: str
    queue_url: str
    machine_arn: str
    validator_arn: str
    settings: Any  # validator_logic.Settings
    clients: Any  # validator_logic.Clients
    alarms: dict[str, MetricAlarm] = field(default_factory=dict)
    alarm_props: dict[str, dict[str, Any]] = field(default_factory=dict)
    composites: dict[str, Composite] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)

    def resources(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, resource in self.template["Resources"].items():
            if resource["Type"] == kind:
                yield logical, resource


def check_id(region: str, logical: str) -> str:
    return f"{region}/{logical}"


def naive(at: datetime) -> datetime:
    """moto stamps and compares metric timestamps as naive UTC."""
    return at.astimezone(UTC).replace(tzinfo=None)


def aware(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    stamped: datetime = at if at.tzinfo else at.replace(tzinfo=UTC)
    return stamped
