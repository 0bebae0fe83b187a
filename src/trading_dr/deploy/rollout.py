"""Execute (or, with apply=False, just plan) the ordered rollout of the stack sets.

Each stage compares the rendered template and the resolved parameters with what is
deployed, and only then writes: a re-run with nothing changed is read-only and reports
every stage `unchanged`. Outputs of deployed stages feed the parameters of later ones
(`plan.resolve_parameters`); a failed stage stops the rollout with its reasons.
Right after the primary stage, the `migrate` step applies pending schema migrations
through the primary's migrate function (`migrations`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trading_dr.config import Environment, Role
from trading_dr.deploy import artifacts, concurrency, iam_wait, migrations, stacksets, watch
from trading_dr.deploy.accounts import check_single_account
from trading_dr.deploy.aws import Clients
from trading_dr.deploy.bootstrap import ensure_bootstrap, missing_bootstrap
from trading_dr.deploy.delegation import DelegationCheck
from trading_dr.deploy.events import EventFollower, failure_reasons
from trading_dr.deploy.plan import (
    PEER_PREFIX,
    Stage,
    artifact_bucket_name,
    declared_parameters,
    parse_template,
    resolve_parameters,
    stages,
)
from trading_dr.deploy.progress import Progress
from trading_dr.deploy.retry import Pacing
from trading_dr.errors import OperationFailedError, PlanError
from trading_dr.resources.dns import NAME_SERVERS_OUTPUT

# Bootstrap items that make something new (the rest change what exists: policy updates).
CREATES = ("role ", "bucket ")

# A stage with one of these ends the rollout (waiting: for the zone's delegation).
STOPPING_STATUSES = frozenset({"failed", "waiting"})


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
class _Deployed:
    """What exists of one stack set: its description, instances, overrides and outputs."""

    stack_set: dict[str, Any] | None
    instances: dict[str, dict[str, Any]]  # account -> summary
    overrides: dict[str, dict[str, str]]
    outputs: dict[str, dict[str, str]]  # account -> outputs (CURRENT instances only)


class Rollout:
    def __init__(self, dep: Deployment) -> None:
        check_single_account(dep.env)
        self.dep = dep
        self.env = dep.env
        self._deployed: dict[str, _Deployed] = {}
        self.new_roles: list[str] = []  # created by this run's bootstrap

    # -- reading -------------------------------------------------------------------
    def _cfn(self, stage: Stage) -> Any:
        return self.dep.clients.client("cloudformation", self.env.primary.region)

    def deployed(self, stage: Stage) -> _Deployed:
        """Read once per stack set; forgotten after a write (`_forget`)."""
        if stage.stack_set in self._deployed:
            return self._deployed[stage.stack_set]
        cfn, pacing = self._cfn(stage), self.dep.pacing
        found = stacksets.describe_stack_set(cfn, pacing, stage.stack_set)
        state = _Deployed(found, {}, {}, {})
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

    def _forget(self, stage: Stage) -> None:
        self._deployed.pop(stage.stack_set, None)

    def _stage_of(self, role: Role) -> Stage:
        return next(s for s in stages(self.env) if s.role is role)

    def outputs_of(self, role: Role, account: str, planning: bool) -> dict[str, str] | None:
        """Outputs of `role`'s stack in `account`; None if not deployed.

        When planning, an undeployed earlier stage stands in with placeholders named
        after its template's Outputs, so the plan still shows where each value comes from.
        """
        found = self.deployed(self._stage_of(role)).outputs.get(account)
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
        peer_stage = self._stage_of(stage.peer)
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

    def run_stage(self, stage: Stage, apply: bool) -> StageResult:
        assert stage.role is not None
        started = time.monotonic()
        result = StageResult(
            stage.name,
            "unchanged",
            stack_set=stage.stack_set,
            region=stage.region,
            accounts=list(stage.accounts),
        )
        if apply and self.deployed(stage).stack_set is not None and watch.attach(self.dep, stage):
            self._forget(stage)  # compared again with what the operation left
        desired = self.desired_parameters(stage, planning=not apply)
        result.parameters = desired[stage.accounts[0]]
        body = template_body(self.dep.files, stage.role)
        state = self.deployed(stage)
        progress = self.dep.progress
        if apply:
            progress.update(stage.name, "checking", stage.stack_set)

        changes = _changes(stage, state, body, desired)
        stack_set_current, to_create, to_update = changes
        if stack_set_current and not to_create and not to_update:
            result.outputs = state.outputs.get(stage.accounts[0], {})
            if apply:
                progress.update(stage.name, "unchanged")
            return result
        result.status = "create" if state.stack_set is None or to_create else "update"
        if not apply:
            return result

        return self._write(stage, state, body, (desired, changes), result, started)

    def _write(
        self, stage: Stage, state: _Deployed, body: bytes,
        wanted: tuple[dict[str, dict[str, str]], tuple[bool, list[str], list[str]]],
        result: StageResult, started: float,
    ) -> StageResult:  # fmt: skip
        """Create or update the stack set, then its instances, batch by batch, waiting for
        each operation; the first that fails ends the stage."""
        assert stage.role is not None
        desired, (stack_set_current, to_create, to_update) = wanted
        cfn, pacing = self._cfn(stage), self.dep.pacing
        # Templates go to the first target account's bucket (bootstrap makes it); in a
        # single-account setup that is the StackSet administrator's own account.
        home_account = self.env.accounts[0]
        source = artifacts.template_source(
            self.dep.clients.client("s3", self.env.primary.region, home_account),
            pacing,
            artifact_bucket_name(self.env, home_account, self.env.primary.region),
            self.env.primary.region,
            stage.role.value,
            body,
        )
        description = str(parse_template(body).get("Description", stage.stack_set))
        self._forget(stage)
        operations: list[tuple[str, str]] = []  # (what, operation id)
        if state.stack_set is None:
            stacksets.create_stack_set(
                cfn, pacing, stage.stack_set, source, result.parameters, description
            )
            result.status = "created"
        elif not stack_set_current:
            existing = [a for a in stage.accounts if a in state.instances]
            op = stacksets.update_stack_set(
                cfn, pacing, stage.stack_set, source, result.parameters,
                existing, stage.region, self.env,
            )  # fmt: skip
            operations.append(("update stack set", op))
            if not self._wait(stage, op, result, started):
                return result
        for accounts, overrides in _batches(to_create, desired):
            op = stacksets.create_instances(
                cfn, pacing, stage.stack_set, accounts, stage.region, overrides, self.env
            )
            if not self._wait(stage, op, result, started):
                return result
        for accounts, overrides in _batches(to_update, desired):
            op = stacksets.update_instances(
                cfn, pacing, stage.stack_set, accounts, stage.region, overrides, self.env
            )
            if not self._wait(stage, op, result, started):
                return result
        if result.status not in {"created", "failed"}:
            result.status = "created" if to_create and not to_update else "updated"
        self._forget(stage)
        result.outputs = self.deployed(stage).outputs.get(stage.accounts[0], {})
        result.duration_s = time.monotonic() - started
        self.dep.progress.update(stage.name, result.status, f"operation {result.operation_id}")
        return result

    def _wait(self, stage: Stage, operation_id: str, result: StageResult, started: float) -> bool:
        result.operation_id = operation_id
        follower = EventFollower()
        outcome = watch.follow(self.dep, stage, operation_id, follower)
        if outcome.status == "SUCCEEDED":
            return True
        result.status = "failed"
        result.duration_s = time.monotonic() - started
        failed = watch.failed_events(self.dep, stage, follower)
        result.reasons = failure_reasons(failed, outcome.reasons)
        self.dep.progress.update(stage.name, "failed", f"operation {operation_id}")
        self.dep.progress.reasons(stage.name, result.reasons)
        return False

    def bootstrap(self, apply: bool) -> StageResult:
        started = time.monotonic()
        for account in self.env.accounts:
            self.dep.clients.require_account(account)  # before anything is written
        result = StageResult(
            "bootstrap",
            "unchanged",
            region=self.env.primary.region,
            accounts=list(self.env.accounts),
        )
        if not apply:
            return self._plan_bootstrap(result)
        self.dep.progress.update("bootstrap", "checking", "roles, artifact buckets, Lambda zips")
        templates = {k: v for k, v in self.dep.files.items() if k.startswith("templates/")}
        created = ensure_bootstrap(self.dep.clients, self.dep.pacing, self.env, templates)
        zips = artifacts.lambda_files(self.dep.files)
        for account in self.env.accounts:
            for region in (self.env.primary.region, self.env.secondary.region):
                s3 = self.dep.clients.client("s3", region, account)
                bucket = artifact_bucket_name(self.env, account, region)
                for key, data in sorted(zips.items()):
                    if artifacts.ensure_object(s3, self.dep.pacing, bucket, key, data):
                        created.append(f"s3://{bucket}/{key}")
        self.new_roles = [item for item in created if item.startswith("role ")]
        if created:
            result.status = "created"
            result.reasons = []
            result.outputs = {"created": ", ".join(created)}
        result.duration_s = time.monotonic() - started
        self.dep.progress.update("bootstrap", result.status, f"{len(created)} item(s) created")
        return result

    def _plan_bootstrap(self, result: StageResult) -> StageResult:
        """What bootstrap would create (roles, buckets, Lambda zips), read-only."""
        templates = {k: v for k, v in self.dep.files.items() if k.startswith("templates/")}
        missing = missing_bootstrap(self.dep.clients, self.dep.pacing, self.env, templates)
        zips = artifacts.lambda_files(self.dep.files)
        absent_zips = 0
        for account in self.env.accounts:
            for region in (self.env.primary.region, self.env.secondary.region):
                bucket = artifact_bucket_name(self.env, account, region)
                if f"bucket {bucket}" in missing:
                    absent_zips += len(zips)
                    continue
                s3 = self.dep.clients.client("s3", region, account)
                absent_zips += sum(
                    not artifacts.object_exists(s3, self.dep.pacing, bucket, key) for key in zips
                )
        if absent_zips:
            missing.append(f"{absent_zips} Lambda zip upload(s)")
        creating = [
            m for m in missing if m.startswith(CREATES) or m.endswith((": create", "upload(s)"))
        ]
        result.status = "create" if creating else "update" if missing else "unchanged"
        result.reasons = missing
        return result

    def delegation(self, global_result: StageResult) -> StageResult | None:
        """None to go on; a `waiting` result while the zone the global stage created is
        not delegated: ACM could not validate the regional certificates before that."""
        env, progress, check = self.env, self.dep.progress, self.dep.delegation_check
        if env.hosted_zone_id is not None:
            return None  # an existing, delegated zone
        listed = global_result.outputs.get(NAME_SERVERS_OUTPUT, "")
        name_servers = [n for n in listed.split(",") if n]
        if check is None:
            progress.update("delegate", "skipped", "delegation check skipped (local AWS)")
            return None
        if not name_servers:
            raise PlanError(
                f"the global stack has no {NAME_SERVERS_OUTPUT} output; fix: render the "
                "templates with this version (python generate.py) and deploy again"
            )
        progress.update("delegate", "checking", f"NS {env.domain}")
        if check(env.domain, name_servers):
            progress.update("delegate", "delegated", env.domain)
            return None
        zone = global_result.outputs.get("HostedZoneId", "")
        result = StageResult("delegate", "waiting", region=env.primary.region)
        result.outputs = {"HostedZoneId": zone, NAME_SERVERS_OUTPUT: listed}
        result.reasons = [f"{env.domain}. NS {name}." for name in name_servers]
        progress.update("delegate", "waiting", f"{env.domain} is not delegated to zone {zone}")
        return result

    def migrate(self, apply: bool) -> StageResult:
        """The schema migrations, per target account, in the primary (writer) region."""
        started = time.monotonic()
        stage = self._stage_of(Role.PRIMARY)
        result = StageResult(
            "migrate", "unchanged", region=stage.region, accounts=list(stage.accounts)
        )
        progress, applied = self.dep.progress, []
        for account in stage.accounts:
            outputs = self.outputs_of(Role.PRIMARY, account, planning=False)
            function = (outputs or {}).get(migrations.OUTPUT)
            if outputs is None and not apply:
                result.status = "create"  # the primary is not deployed yet
                result.reasons.append(
                    f"{account}: the primary stack is not deployed yet; status after it"
                )
                continue
            if function is None:
                outcome = migrations.Outcome(
                    "failed", reason=f"the primary stack in {account} has no {migrations.OUTPUT}"
                )
            else:
                result.parameters[f"{account}.{migrations.OUTPUT}"] = function
                client = migrations.invoke_client(
                    self.dep.clients, self.dep.pacing, stage.region, account, function
                )
                if apply:
                    progress.update("migrate", "checking", function)
                    outcome = migrations.migrate(client, self.dep.pacing, function)
                else:
                    outcome = migrations.plan(client, self.dep.pacing, function)
            if outcome.status == "failed":
                result.status = "failed"
                result.reasons.append(f"{account}: {outcome.reason}")
                break
            if outcome.status != "unchanged":
                result.status = outcome.status
                result.reasons.append(f"{account}: pending {', '.join(outcome.pending)}")
            applied += [f"{account}:{name}" for name in outcome.applied]
        if applied:
            result.outputs = {"applied": ", ".join(applied)}
        result.duration_s = time.monotonic() - started
        if apply:
            progress.update("migrate", result.status, result.outputs.get("applied", ""))
            if result.status == "failed":
                progress.reasons("migrate", result.reasons)
        return result


def _changes(
    stage: Stage, state: _Deployed, body: bytes, desired: Mapping[str, Mapping[str, str]]
) -> tuple[bool, list[str], list[str]]:
    """Whether the stack set's template and parameter keys are current, and the accounts
    whose instance is to be created, or updated (not CURRENT, or other overrides)."""
    parameters = desired[stage.accounts[0]]
    stack_set_current = state.stack_set is not None and (
        state.stack_set.get("TemplateBody") == body.decode()
        and {p["ParameterKey"] for p in state.stack_set.get("Parameters", [])} == set(parameters)
    )
    to_create = [a for a in stage.accounts if a not in state.instances]
    to_update = [
        a
        for a in stage.accounts
        if a in state.instances
        and (state.instances[a].get("Status") != "CURRENT" or state.overrides.get(a) != desired[a])
    ]
    return stack_set_current, to_create, to_update


def _batches(
    accounts: list[str], desired: Mapping[str, Mapping[str, str]]
) -> list[tuple[list[str], dict[str, str]]]:
    """Accounts grouped by identical overrides: one operation per group."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for account in accounts:
        groups.setdefault(tuple(sorted(desired[account].items())), []).append(account)
    return [(group, dict(key)) for key, group in groups.items()]


def capacity(dep: Deployment) -> StageResult | None:
    """A failed `capacity` result when an account cannot hold the templates' reserved
    Lambda concurrency in some region (`concurrency`); None when every region fits."""
    short = concurrency.preflight(dep.clients, dep.pacing, dep.env, dep.files)
    if not short:
        return None
    dep.progress.reasons("capacity", short)
    return StageResult("capacity", "failed", reasons=short)


def deploy(dep: Deployment) -> list[StageResult]:
    """Run every stage in order; stops after a failed stage (its result is the last), or
    after the global stage while its new hosted zone is not delegated (`delegation`).
    Nothing is written when the Lambda concurrency preflight finds a shortfall."""
    check_single_account(dep.env)  # before any call
    short = capacity(dep)
    if short is not None:
        return [short]
    rollout = Rollout(dep)
    results = [rollout.bootstrap(apply=True)]
    if rollout.new_roles:
        try:
            iam_wait.wait_for_roles(dep)
        except OperationFailedError as exc:
            results[0].status, results[0].reasons = "failed", [str(exc)]
            return results
    for stage in stages(dep.env)[1:]:
        refused = rollout.refuse_inoperable(stage, apply=True)
        results.append(refused or rollout.run_stage(stage, apply=True))
        if results[-1].status != "failed" and stage.name == "primary":
            results.append(rollout.migrate(apply=True))
        if results[-1].status != "failed" and stage.name == "global":
            waiting = rollout.delegation(results[-1])
            if waiting is not None:
                results.append(waiting)
        if results[-1].status in STOPPING_STATUSES:
            break
    return results


def plan(dep: Deployment) -> list[StageResult]:
    """What `deploy` would do, read-only: per stage its targets, parameters and action."""
    rollout = Rollout(dep)
    short = capacity(dep)
    results = ([short] if short else []) + [rollout.bootstrap(apply=False)]
    for stage in stages(dep.env)[1:]:
        refused = rollout.refuse_inoperable(stage, apply=False)
        results.append(refused or rollout.run_stage(stage, apply=False))
        if stage.name == "primary":
            results.append(rollout.migrate(apply=False))
    return results
