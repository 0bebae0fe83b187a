"""Destroy the stack sets in reverse rollout order and say what AWS keeps.

Resources with DeletionPolicy Retain or Snapshot (databases, buckets, keys) outlive
their stacks on purpose; `retained_resources` lists them from the rendered templates so
the operator knows what is left to clean up (or to keep for the auditors). Bootstrap's
roles and artifact buckets are never destroyed (other environments of the account may use
them); `present_bootstrap` says which exist.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from trading_dr.config import Role
from trading_dr.deploy import stacksets
from trading_dr.deploy.plan import parse_template, stages
from trading_dr.deploy.rollout import Deployment, Rollout, StageResult

DESTROY_ORDER = (Role.SECONDARY, Role.PRIMARY, Role.GLOBAL)
KEPT_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")


def retained_resources(files: Mapping[str, bytes]) -> list[str]:
    lines = []
    for role in DESTROY_ORDER:
        body = files.get(f"templates/{role.value}.yaml")
        resources = (parse_template(body).get("Resources") or {}) if body else {}
        for name, resource in sorted(resources.items()):
            policy = resource.get("DeletionPolicy")
            if policy in KEPT_POLICIES:
                lines.append(f"{role.value}: {name} ({resource['Type']}) DeletionPolicy {policy}")
    return lines


def deployed_stack_sets(dep: Deployment) -> list[str]:
    """The environment's stack sets that exist, in destroy order (read-only)."""
    rollout = Rollout(dep)
    by_role = {s.role: s for s in stages(dep.env) if s.role is not None and s.name != "link"}
    return [
        by_role[role].stack_set
        for role in DESTROY_ORDER
        if rollout.deployed(by_role[role]).stack_set is not None
    ]


def destroy(dep: Deployment) -> list[StageResult]:
    rollout = Rollout(dep)
    by_role = {s.role: s for s in stages(dep.env) if s.role is not None and s.name != "link"}
    results: list[StageResult] = []
    for role in DESTROY_ORDER:
        stage = by_role[role]
        started = time.monotonic()
        result = StageResult(stage.name, "absent", stack_set=stage.stack_set, region=stage.region)
        state = rollout.deployed(stage)
        results.append(result)
        if state.stack_set is None:
            dep.progress.update(stage.name, "absent")
            continue
        cfn = dep.clients.client("cloudformation", dep.env.primary.region)
        if state.instances:
            op = stacksets.delete_instances(
                cfn, dep.pacing, stage.stack_set, sorted(state.instances), [stage.region], dep.env
            )
            if not rollout._wait(stage, op, result, started):
                return results
        stacksets.delete_stack_set(cfn, dep.pacing, stage.stack_set)
        result.status = "deleted"
        result.duration_s = time.monotonic() - started
        dep.progress.update(stage.name, "deleted")
    return results
