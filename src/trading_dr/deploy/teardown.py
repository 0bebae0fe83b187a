"""Destroy the stack sets in reverse rollout order and say what AWS keeps.

Resources with DeletionPolicy Retain or Snapshot (databases, buckets, keys) outlive
their stacks on purpose; `retained_resources` lists them from the rendered templates so
the operator knows what is left to clean up (or to keep for the auditors). Bootstrap's
roles and artifact buckets are never destroyed (other environments of the account may use
them); `present_bootstrap` says which exist.

Deletion protection: the regional Aurora clusters carry `DeletionProtection: true` with
DeletionPolicy Snapshot, so CloudFormation tries to delete them and RDS refuses; the
DeleteStackInstances operation fails and leaves the instance INOPERABLE, which StackSets
then excludes from updates until it is deleted with RetainStacks (CloudFormation API
reference, StackInstance status). `protected_resources` names them from the templates,
and `destroy` takes one of the two documented ways (`Protection`):
- RETAIN: DeleteStackInstances with RetainStacks=true for the stack sets that hold them
  (or whose instances are already INOPERABLE): the stack sets go, the stacks stay in the
  account to be deleted (or kept) by hand;
- LIFT: ModifyDBCluster DeletionProtection=false on each protected cluster of each
  instance (found through the instance's stack resources), then delete as usual (the
  Snapshot policy takes a final snapshot).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import Enum
from typing import Any

from trading_dr.config import Role
from trading_dr.deploy import stacksets
from trading_dr.deploy.deployed import Deployment, StageResult
from trading_dr.deploy.plan import parse_template, stages
from trading_dr.deploy.retry import call
from trading_dr.deploy.rollout import Rollout

DESTROY_ORDER = (Role.OBSERVER, Role.SECONDARY, Role.PRIMARY, Role.GLOBAL)
KEPT_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")
# DeletionPolicies under which CloudFormation leaves the resource alone on delete.
UNTOUCHED_POLICIES = ("Retain", "RetainExceptOnCreate")
# Types whose protection destroy can lift, and how (the only kind the templates hold).
LIFTABLE = {"AWS::RDS::DBCluster": "rds"}


class Protection(Enum):
    REFUSE = "refuse"  # say what is protected and stop
    RETAIN = "retain"  # RetainStacks: stacks stay in the account
    LIFT = "lift"  # ModifyDBCluster DeletionProtection=false first


def protected_resources(files: Mapping[str, bytes]) -> dict[Role, list[tuple[str, str]]]:
    """Per template: (logical id, type) of resources whose deletion protection makes
    CloudFormation's delete fail (protected, and not left alone by their DeletionPolicy)."""
    found: dict[Role, list[tuple[str, str]]] = {}
    for role in DESTROY_ORDER:
        body = files.get(f"templates/{role.value}.yaml")
        resources = (parse_template(body).get("Resources") or {}) if body else {}
        for name, resource in sorted(resources.items()):
            properties: dict[str, Any] = resource.get("Properties") or {}
            if resource.get("DeletionPolicy") in UNTOUCHED_POLICIES:
                continue
            if properties.get("DeletionProtection") is True:
                found.setdefault(role, []).append((name, str(resource["Type"])))
    return found


def inoperable_instances(dep: Deployment) -> dict[str, list[str]]:
    """stack set -> accounts whose instance is INOPERABLE (a delete failed before)."""
    rollout = Rollout(dep)
    found: dict[str, list[str]] = {}
    for stage in stages(dep.env):
        if stage.role is None or stage.name == "link":
            continue
        for account, summary in rollout.deployed(stage).instances.items():
            if summary.get("Status") == "INOPERABLE":
                found.setdefault(stage.stack_set, []).append(account)
    return found


def _lift(dep: Deployment, stage: Any, instances: Mapping[str, Any], ids: list[str]) -> None:
    """ModifyDBCluster DeletionProtection=false on each protected cluster of the stage."""
    for account, summary in sorted(instances.items()):
        cfn = dep.clients.client("cloudformation", stage.region, account)
        rds = dep.clients.client("rds", stage.region, account)
        for logical_id in ids:
            resource = call(
                dep.pacing,
                cfn.describe_stack_resource,
                StackName=summary["StackId"],
                LogicalResourceId=logical_id,
            )["StackResourceDetail"]
            call(
                dep.pacing,
                rds.modify_db_cluster,
                DBClusterIdentifier=resource["PhysicalResourceId"],
                DeletionProtection=False,
                ApplyImmediately=True,
            )
            dep.progress.update(
                stage.name, "unprotected", f"{resource['PhysicalResourceId']} in {account}"
            )


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


def destroy(dep: Deployment, protection: Protection = Protection.REFUSE) -> list[StageResult]:
    """Delete the stack sets in DESTROY_ORDER. With REFUSE the caller has made sure that
    nothing protected is deployed (the command refuses first)."""
    rollout = Rollout(dep)
    guarded = protected_resources(dep.files)
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
        inoperable = any(i.get("Status") == "INOPERABLE" for i in state.instances.values())
        ids = [name for name, kind in guarded.get(role, []) if kind in LIFTABLE]
        retain = protection is Protection.RETAIN and (bool(guarded.get(role)) or inoperable)
        if protection is Protection.LIFT and ids and state.instances:
            _lift(dep, stage, state.instances, ids)
        if state.instances:
            op = stacksets.delete_instances(
                cfn, dep.pacing, stage.stack_set, sorted(state.instances), [stage.region],
                dep.env, retain=retain,
            )  # fmt: skip
            if not rollout._wait(stage, op, result, started):
                return results
        stacksets.delete_stack_set(cfn, dep.pacing, stage.stack_set)
        result.status = "retained" if retain else "deleted"
        if retain:
            result.reasons = [
                f"{a}/{stage.region}: stack {i.get('StackId')} kept (RetainStacks)"
                for a, i in sorted(state.instances.items())
            ]
        result.duration_s = time.monotonic() - started
        dep.progress.update(stage.name, "deleted")
    return results
