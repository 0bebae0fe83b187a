"""Route 53 hosted zone of the platform's domain (global template).

An environment may name an existing zone (`hosted_zone_id`); then nothing is created and
the id flows on as a plain value, so regional stacks never care which case applies.
"""

from __future__ import annotations

from troposphere import AWSHelperFn, Ref, Template
from troposphere.route53 import AliasTarget, HostedZone, HostedZoneConfiguration, RecordSetType

from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext

# Global stage output: the new zone's name servers, comma-separated (the deployer waits
# until the parent zone delegates to them).
NAME_SERVERS_OUTPUT = "HostedZoneNameServers"


def add_hosted_zone(template: Template, ctx: StackContext) -> AWSHelperFn | str:
    """The zone id: a Ref to a new zone, or the configured existing id."""
    if ctx.env.hosted_zone_id is not None:
        return ctx.env.hosted_zone_id
    zone = template.add_resource(
        HostedZone(
            "HostedZone",
            Name=f"{ctx.env.domain}.",
            HostedZoneConfig=HostedZoneConfiguration(
                Comment=f"trading-dr {ctx.env.suffix}: API failover records"
            ),
            HostedZoneTags=ctx.tags(),
            # The zone's name servers are delegated from the parent zone by hand; a
            # replacement would break that delegation silently.
            **KEEP_DATA,
        )
    )
    return Ref(zone)


def add_alias_record(
    template: Template,
    logical_id: str,
    zone_id: AWSHelperFn | str,
    name: str,
    target_dns: AWSHelperFn,
    target_zone_id: AWSHelperFn,
) -> RecordSetType:
    """A plain A alias (no routing policy), e.g. a region's own API name."""
    return template.add_resource(
        RecordSetType(
            logical_id,
            HostedZoneId=zone_id,
            Name=f"{name}.",
            Type="A",
            AliasTarget=AliasTarget(
                DNSName=target_dns, HostedZoneId=target_zone_id, EvaluateTargetHealth=False
            ),
        )
    )
