"""CloudFormation Parameters of a regional template: outputs of earlier rollout stages.

The deployer fills them from the stack instances of earlier stages (ParameterOverrides),
passing only the parameters a template declares. A Parameter is declared the first time
a builder uses it, so every template declares exactly what it consumes.

The peer-replication parameters are empty ("") while the peer does not exist yet: the
primary is first created with them empty, and the link stage passes the secondary's ARNs
to switch its replication on. They have no Default on purpose: the deployer always passes
them, so an empty value is a decision made in the rollout plan, never an omission.
"""

from __future__ import annotations

from troposphere import Equals, Not, Parameter, Ref, Template

from trading_dr.resources.vocabulary.context import StackContext

REPLICATE_CONDITION = "ReplicateToPeer"
FENCED_CONDITION = "PeerCanFence"
ARN_PATTERN = r"^$|^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$"


class StageInputs:
    """Lazily declared stage parameters; each property returns a Ref to its Parameter."""

    def __init__(self, template: Template, ctx: StackContext) -> None:
        self._template = template
        self._peer = ctx.peer_region

    def _parameter(self, name: str, description: str, **kwargs: object) -> Ref:
        if name not in self._template.parameters:
            self._template.add_parameter(
                Parameter(name, Type="String", Description=description, **kwargs)
            )
        return Ref(name)

    @property
    def global_cluster_id(self) -> Ref:
        return self._parameter(
            "GlobalClusterIdentifier",
            "Aurora global cluster id (global stage output GlobalClusterIdentifier)",
            AllowedPattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$",
        )

    @property
    def hosted_zone_id(self) -> Ref:
        return self._parameter(
            "HostedZoneId",
            "Route 53 hosted zone id (global stage output HostedZoneId)",
            AllowedPattern=r"^Z[A-Z0-9]{1,31}$",
        )

    @property
    def sessions_table_name(self) -> Ref:
        return self._parameter(
            "SessionsTableName",
            "Sessions global table name (global stage output SessionsTableName)",
            AllowedPattern=r"^[a-zA-Z0-9_.-]{3,255}$",
        )

    @property
    def journal_table_name(self) -> Ref:
        return self._parameter(
            "JournalTableName",
            "Intake journal global table name (global stage output JournalTableName)",
            AllowedPattern=r"^[a-zA-Z0-9_.-]{3,255}$",
        )

    @property
    def artifact_bucket(self) -> Ref:
        return self._parameter(
            "ArtifactBucket",
            "This region's artifact bucket holding the Lambda zips (made by bootstrap)",
            AllowedPattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        )

    def _peer_arn(self, name: str, what: str) -> Ref:
        return self._parameter(
            name,
            f"{what} in {self._peer}; empty until it exists (the link stage fills it)",
            AllowedPattern=ARN_PATTERN,
        )

    @property
    def peer_config_bucket_arn(self) -> Ref:
        return self._peer_arn("PeerConfigBucketArn", "Config bucket ARN")

    @property
    def peer_audit_bucket_arn(self) -> Ref:
        return self._peer_arn("PeerAuditBucketArn", "Audit bucket ARN")

    @property
    def peer_data_key_arn(self) -> Ref:
        return self._peer_arn("PeerDataKeyArn", "Data KMS key ARN (encrypts replicas there)")

    @property
    def peer_fence_health_check_id(self) -> Ref:
        """The peer's "fenced by the peer" Route 53 check (its output FenceHealthCheckId)."""
        return self._parameter(
            "PeerFenceHealthCheckId",
            f"Route 53 health check of the {self._peer} stack, unhealthy once the workflow there "
            "fenced this region (peer output FenceHealthCheckId); empty until the peer exists",
            AllowedPattern=r"^$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        )

    @property
    def fenced_by_peer_condition(self) -> str:
        """Name of the condition that is true once the peer's fence check exists."""
        if FENCED_CONDITION not in self._template.conditions:
            self._template.add_condition(
                FENCED_CONDITION, Not(Equals(self.peer_fence_health_check_id, ""))
            )
        return FENCED_CONDITION

    @property
    def replicate_condition(self) -> str:
        """Name of the condition that is true once the peer's buckets exist."""
        if REPLICATE_CONDITION not in self._template.conditions:
            self._template.add_condition(
                REPLICATE_CONDITION, Not(Equals(self.peer_config_bucket_arn, ""))
            )
        return REPLICATE_CONDITION


def add_stage_inputs(template: Template, ctx: StackContext) -> StageInputs:
    return StageInputs(template, ctx)
