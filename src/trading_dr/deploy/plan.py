"""The rollout plan: ordered stages and the parameters each stage's template takes.

Parameters are matched generically, BY NAME, so new template parameters need no code
here unless they are a deploy-time input:
1. a deploy-time input (DEPLOY_INPUTS: values the deployer itself owns);
2. `Peer<X>`: output `<X>` of the other region's stack; "" while that stack does not
   exist yet (the primary's first deploy; the link stage fills it);
3. an output of the global stage with the same name;
4. otherwise the template's Default; a parameter with none is a PlanError naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from trading_dr.config import Environment, Role
from trading_dr.errors import PlanError

PEER_PREFIX = "Peer"
STAGE_ORDER = ("bootstrap", "global", "primary", "secondary", "observer", "link")


def artifact_bucket_name(env: Environment, account: str, region: str) -> str:
    """Per account and region: Lambda code in S3 must be in the function's region."""
    return f"trading-{env.suffix}-artifacts-{account}-{region}"


@dataclass(frozen=True)
class Target:
    """Where one stage's stack instance goes; the deploy-time inputs depend on it."""

    env: Environment
    account: str
    region: str


# Deploy-time inputs: template parameters whose values the deployer owns.
DEPLOY_INPUTS: dict[str, Callable[[Target], str]] = {
    "ArtifactBucket": lambda t: artifact_bucket_name(t.env, t.account, t.region),
}


@dataclass(frozen=True)
class Stage:
    name: str
    role: Role | None  # the template it deploys; None for bootstrap
    stack_set: str
    region: str
    accounts: tuple[str, ...]
    peer: Role | None  # whose outputs fill the Peer* parameters

    def targets(self, env: Environment) -> list[Target]:
        return [Target(env, account, self.region) for account in self.accounts]


def stack_set_name(env: Environment, role: Role) -> str:
    return f"trading-{env.suffix}-{role.value}"


def stages(env: Environment) -> list[Stage]:
    """bootstrap, global, primary, secondary, observer, link: the order of the rollout."""
    primary, secondary = env.primary.region, env.secondary.region
    accounts = tuple(env.accounts)

    def stage(name: str, role: Role | None, region: str, peer: Role | None) -> Stage:
        set_name = stack_set_name(env, role) if role else f"trading-{env.suffix}-bootstrap"
        return Stage(name, role, set_name, region, accounts, peer)

    return [
        stage("bootstrap", None, primary, None),
        stage("global", Role.GLOBAL, primary, None),
        stage("primary", Role.PRIMARY, primary, Role.SECONDARY),
        stage("secondary", Role.SECONDARY, secondary, Role.PRIMARY),
        # The third region's probe: both regions' quorum alarms read what it publishes.
        stage("observer", Role.OBSERVER, env.failover.observer_region, None),
        # The link stage re-deploys the primary once the secondary's buckets exist.
        stage("link", Role.PRIMARY, primary, Role.SECONDARY),
    ]


@cache
def parse_template(body: bytes) -> dict[str, Any]:
    """A template as data; parsed once (the C loader: 70 KB in pure Python takes ~0.3 s)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded = yaml.load(body, Loader=loader)
    return dict(loaded or {})


def declared_parameters(template_body: bytes) -> dict[str, dict[str, Any]]:
    """The template's Parameters section (name -> declaration)."""
    return dict(parse_template(template_body).get("Parameters") or {})


def resolve_parameters(
    stage: Stage,
    target: Target,
    declared: Mapping[str, Mapping[str, Any]],
    global_outputs: Mapping[str, str],
    peer_outputs: Mapping[str, str] | None,
) -> dict[str, str]:
    """Values for the declared parameters (those left to their Default are omitted)."""
    values: dict[str, str] = {}
    for name, declaration in declared.items():
        if name in DEPLOY_INPUTS:
            values[name] = DEPLOY_INPUTS[name](target)
        elif name.startswith(PEER_PREFIX) and stage.peer is not None:
            wanted = name.removeprefix(PEER_PREFIX)
            if peer_outputs is None:
                values[name] = ""  # the peer does not exist yet
            elif wanted in peer_outputs:
                values[name] = peer_outputs[wanted]
            else:
                raise PlanError(
                    f"stage {stage.name}: parameter {name} needs output {wanted} of the "
                    f"{stage.peer.value} stack, which has no such output; fix: add the "
                    "output to that template or rename the parameter"
                )
        elif name in global_outputs:
            values[name] = global_outputs[name]
        elif "Default" not in declaration:
            raise PlanError(
                f"stage {stage.name}: template parameter {name} has no value: it is not a "
                "deploy-time input, a Peer* parameter or an output of an earlier stage, "
                "and has no Default; fix: give it a Default or output it from an earlier stage"
            )
    return values
