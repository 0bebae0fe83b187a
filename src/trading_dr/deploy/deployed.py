"""What is deployed: the deployment a command acts on, each stage's result, and the
stack sets as they are (read once per stack set) with the parameters each stage resolves
from the outputs of earlier ones (`plan.resolve_parameters`). `rollout.Rollout` acts on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trading_dr.config import Environment, Role
from trading_dr.deploy import stacksets
from trading_dr.deploy.accounts import check_single_account
from trading_dr.deploy.aws import Clients
from trading_dr.deploy.delegation import DelegationCheck
from trading_dr.deploy.plan import (
    PEER_PREFIX,
    Stage,
    declared_parameters,
    parse_template,
    resolve_parameters,
    stages,
)
from trading_dr.deploy.progress import Progress
from trading_dr.deploy.retry import Pacing
from trading_dr.errors import PlanError


@dataclass
class Deployment:
    """Everything a command needs: what to deploy, where, and how to report it."""

    env: Environment
    files: Mapping[str, bytes]  # the generator's output tree (templates/, lambda/)
    clients: Clients
    pacing: Pacing
    progress: Progress
    # time.monotonic() by which every wait ends (--timeout); the operation goes on.
    deadline: float | None = None
    # Asked on Ctrl-C while an operation runs: "stop" (StopStackSetOperation) or "detach".
    on_interrupt: Callable[[str, str], str] | None = None
    # Whether a new hosted zone is delegated yet (delegation.is_delegated); None skips the
    # check (the local AWS, whose name servers answer nothing).
    delegation_check: DelegationCheck | None = None


@dataclass
class StageResult:
    name: str
    # created | updated | unchanged | failed | waiting (plan: create | update | unchanged)
    status: str
    operation_id: str | None = None
    duration_s: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    stack_set: str = ""
    region: str = ""
    accounts: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "operation_id": self.operation_id,
            "duration_s": round(self.duration_s, 3),
            "outputs": self.outputs,
            **({"reasons": self.reasons} if self.reasons else {}),
        }


def template_body(files: Mapping[str, bytes], role: Role) -> bytes:
    key = f"templates/{role.value}.yaml"
    if key not in files:
        raise PlanError(f"{key} is missing from the rendered output; fix: run python generate.py")
    return files[key]


@dataclass
class Deployed:
    """What exists of one stack set: its description, instances, overrides and outputs."""

    stack_set: dict[str, Any] | None
    instances: dict[str, dict[str, Any]]  # account -> summary
    overrides: dict[str, dict[str, str]]
    outputs: dict[str, dict[str, str]]  # account -> outputs (CURRENT instances only)


class DeployedState:
    """What is deployed of each stage, read once per stack set (forgotten after a write),
    and what a stage's parameters resolve to from it."""

    def __init__(self, dep: Deployment) -> None:
        check_single_account(dep.env)
        self.dep = dep
        self.env = dep.env
        self._deployed: dict[str, Deployed] = {}

    # -- reading -------------------------------------------------------------------
    def cfn(self, stage: Stage) -> Any:
        return self.dep.clients.client("cloudformation", self.env.primary.region)

    def deployed(self, stage: Stage) -> Deployed:
        """Read once per stack set; forgotten after a write (`_forget`)."""
        if stage.stack_set in self._deployed:
            return self._deployed[stage.stack_set]
        cfn, pacing = self.cfn(stage), self.dep.pacing
        found = stacksets.describe_stack_set(cfn, pacing, stage.stack_set)
        state = Deployed(found, {}, {}, {})
        if found is not None:
            for summary in stacksets.list_instances(cfn, pacing, stage.stack_set):
                if summary.get("Region") != stage.region:
                    continue
                account = str(summary["Account"])
                state.instances[account] = summary
                state.overrides[account] = stacksets.instance_overrides(
                    cfn, pacing, stage.stack_set, account, stage.region
                )
                if summary.get("Status") == "CURRENT" and summary.get("StackId"):
                    target = self.dep.clients.client("cloudformation", stage.region, account)
                    state.outputs[account] = stacksets.stack_outputs(
                        target, pacing, summary["StackId"]
                    )
        self._deployed[stage.stack_set] = state
        return state

    def forget(self, stage: Stage) -> None:
        self._deployed.pop(stage.stack_set, None)

    def stage_of(self, role: Role) -> Stage:
        return next(s for s in stages(self.env) if s.role is role)

    def outputs_of(self, role: Role, account: str, planning: bool) -> dict[str, str] | None:
        """Outputs of `role`'s stack in `account`; None if not deployed.

        When planning, an undeployed earlier stage stands in with placeholders named
        after its template's Outputs, so the plan still shows where each value comes from.
        """
        found = self.deployed(self.stage_of(role)).outputs.get(account)
        if found is not None or not planning:
            return found
        declared = parse_template(template_body(self.dep.files, role)).get("Outputs") or {}
        return {name: f"<{role.value}.{name}>" for name in declared}

    # -- the stages ----------------------------------------------------------------
    def desired_parameters(self, stage: Stage, planning: bool) -> dict[str, dict[str, str]]:
        assert stage.role is not None
        declared = declared_parameters(template_body(self.dep.files, stage.role))
        values: dict[str, dict[str, str]] = {}
        for target in stage.targets(self.env):
            global_outputs: dict[str, str] = {}
            if stage.role is not Role.GLOBAL:
                global_outputs = self.outputs_of(Role.GLOBAL, target.account, planning) or {}
            peer = None
            if stage.peer is not None:
                # The primary's first deploy runs before the secondary exists: peer None.
                peer = self.outputs_of(
                    stage.peer, target.account, planning and stage.name != "primary"
                )
                if peer is None and not (planning and stage.name != "primary"):
                    peer = self._peer_not_current(stage, target.account)
            values[target.account] = resolve_parameters(
                stage, target, declared, global_outputs, peer
            )
        return values

    def refuse_inoperable(self, stage: Stage, apply: bool) -> StageResult | None:
        """A failed result if an instance of `stage` is INOPERABLE, else None."""
        state = self.deployed(stage)
        progress = self.dep.progress
        result = StageResult(
            stage.name, "failed", stack_set=stage.stack_set, region=stage.region,
            accounts=list(stage.accounts),
        )  # fmt: skip
        inoperable = sorted(
            a for a, i in state.instances.items() if i.get("Status") == "INOPERABLE"
        )
        if inoperable:
            # StackSets excludes INOPERABLE instances from updates: an update would
            # "succeed" without touching them.
            result.reasons = [
                f"{a}/{stage.region}: stack instance of {stage.stack_set} is INOPERABLE (a "
                "DeleteStackInstances failed and left its stack); StackSets excludes it from "
                "updates; fix: remove it with RetainStacks (trading-dr destroy --retain-stacks, "
                "or aws cloudformation delete-stack-instances --retain-stacks), delete or keep "
                "its stack by hand, then deploy again"
                for a in inoperable
            ]
            if apply:
                progress.update(stage.name, "failed", "INOPERABLE instance(s)")
                progress.reasons(stage.name, result.reasons)
            return result
        return None

    def _peer_not_current(self, stage: Stage, account: str) -> dict[str, str] | None:
        """Peer values when the peer's outputs are unknown: None (pass "") only while the
        peer does not exist; never "" for a peer that exists but whose last operation
        failed, which would turn replication off (or pass "" on to later stages)."""
        assert stage.peer is not None
        peer_stage = self.stage_of(stage.peer)
        instance = self.deployed(peer_stage).instances.get(account)
        if instance is None and stage.name == "primary":
            return None
        if stage.name == "primary":
            # Keep what is deployed: the secondary is redeployed later in this rollout.
            own = self.deployed(stage).overrides.get(account) or {}
            kept = {
                k.removeprefix(PEER_PREFIX): v for k, v in own.items() if k.startswith(PEER_PREFIX)
            }
            return kept or None
        state = "missing" if instance is None else f"{instance.get('Status')}"
        raise PlanError(
            f"stage {stage.name}: the {stage.peer.value} stack instance in {account} is "
            f"{state} (its last operation failed), so its outputs are unknown; fix: see "
            f"trading-dr status, correct the failure and re-run deploy"
        )
