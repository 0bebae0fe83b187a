"""What an environment expects to exist before its first rollout, made in the local AWS.

An environment may name an existing Route 53 hosted zone (`hosted_zone_id`); on AWS it
was created and delegated by hand. The local AWS starts empty, so without this the
primary's records fail with NoSuchHostedZone and such an environment cannot be tried
locally. `provide` creates the zone under exactly that id (moto would pick a random one),
in every target account of the environment, once.
"""

from __future__ import annotations

from moto.route53.models import route53_backends

from trading_dr.config import Environment

PARTITION = "aws"


def provide(env: Environment) -> list[str]:
    """Create what `env` references as pre-existing; returns what was created."""
    created: list[str] = []
    zone_id = env.hosted_zone_id
    if zone_id is None:
        return created
    for account in env.accounts:
        backend = route53_backends[account][PARTITION]
        if zone_id in backend.zones:
            continue
        zone = backend.create_hosted_zone(
            f"{env.domain}.",
            private_zone=False,
            comment=f"pre-existing zone of environment {env.name} (local AWS stand-in)",
        )
        backend.zones.pop(zone.resource_id)
        zone.resource_id = zone_id
        backend.zones[zone_id] = zone
        created.append(f"hosted zone {zone_id} ({env.domain}) in {account}")
    return created
