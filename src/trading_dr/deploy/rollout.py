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
from collections.abc import Mapping

from trading_dr.config import Role
from trading_dr.deploy import artifacts, concurrency, iam_wait, migrations, stacksets, watch
from trading_dr.deploy.accounts import check_single_account
from trading_dr.deploy.bootstrap import ensure_bootstrap, missing_bootstrap
from trading_dr.deploy.deployed import (
    Deployed,
    DeployedState,
    Deployment,
    StageResult,
    template_body,
)
from trading_dr.deploy.events import EventFollower, failure_reasons
from trading_dr.deploy.plan import (
    Stage,
    artifact_bucket_name,
    parse_template,
    stages,
)
from trading_dr.errors import OperationFailedError, PlanError
from trading_dr.resources.dns import NAME_SERVERS_OUTPUT

# Bootstrap items that make something new (the rest change what exists: policy updates).
CREATES = ("role ", "bucket ")

# A stage with one of these ends the rollout (waiting: for the zone's delegation).
STOPPING_STATUSES = frozenset({"failed", "waiting"})


class Rollout(DeployedState):
    """The stages' actions: bootstrap, each stack set stage, migrate, delegation."""

    def __init__(self, dep: Deployment) -> None:
        super().__init__(dep)
        self.new_roles: list[str] = []  # created by this run's bootstrap

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
            self.forget(stage)  # compared again with what the operation left
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
        self, stage: Stage, state: Deployed, body: bytes,
        wanted: tuple[dict[str, dict[str, str]], tuple[bool, list[str], list[str]]],
        result: StageResult, started: float,
    ) -> StageResult:  # fmt: skip
        """Create or update the stack set, then its instances, batch by batch, waiting for
        each operation; the first that fails ends the stage."""
        assert stage.role is not None
        desired, (stack_set_current, to_create, to_update) = wanted
        cfn, pacing = self.cfn(stage), self.dep.pacing
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
        self.forget(stage)
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
        self.forget(stage)
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
        stage = self.stage_of(Role.PRIMARY)
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
    stage: Stage, state: Deployed, body: bytes, desired: Mapping[str, Mapping[str, str]]
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
