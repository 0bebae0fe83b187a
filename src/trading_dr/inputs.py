"""CloudFormation Parameters of a regional template: outputs of earlier rollout stages.

The deployer fills them from the stack instances of earlier stages (ParameterOverrides).
The peer-replication parameters default to empty: the primary is first created without
its replication rule, and the link stage passes the secondary's ARNs to switch it on.
"""

from __future__ import annotations

from troposphere import Condition, Equals, Not, Parameter, Ref, Template

from trading_dr.context import StackContext
from trading_dr.refs import StageInputs

REPLICATE_CONDITION = "ReplicateToPeer"
ARN_PATTERN = r"^$|^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$"


def add_stage_inputs(template: Template, ctx: StackContext) -> StageInputs:
    def parameter(name: str, description: str, **kwargs: object) -> Ref:
        return Ref(
            template.add_parameter(Parameter(name, Type="String", Description=description, **kwargs))
        )

    global_cluster = parameter(
        "GlobalClusterIdentifier",
        "Aurora global cluster id (global stage output GlobalClusterIdentifier)",
        AllowedPattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$",
    )
    zone = parameter(
        "HostedZoneId",
        "Route 53 hosted zone id (global stage output HostedZoneId)",
        AllowedPattern=r"^Z[A-Z0-9]{1,31}$",
    )
    table = parameter(
        "SessionsTableName",
        "Sessions global table name (global stage output SessionsTableName)",
        AllowedPattern=r"^[a-zA-Z0-9_.-]{3,255}$",
    )
    peer = ctx.peer_region
    peer_config = parameter(
        "PeerConfigBucketArn",
        f"Config bucket ARN in {peer}; empty until that bucket exists (link stage)",
        Default="",
        AllowedPattern=ARN_PATTERN,
    )
    peer_audit = parameter(
        "PeerAuditBucketArn",
        f"Audit bucket ARN in {peer}; empty until that bucket exists (link stage)",
        Default="",
        AllowedPattern=ARN_PATTERN,
    )
    peer_key = parameter(
        "PeerDataKeyArn",
        f"Data KMS key ARN in {peer}, used to encrypt replicas there",
        Default="",
        AllowedPattern=ARN_PATTERN,
    )
    template.add_condition(REPLICATE_CONDITION, Not(Equals(peer_config, "")))
    return StageInputs(
        global_cluster_id=global_cluster,
        hosted_zone_id=zone,
        sessions_table_name=table,
        peer_config_bucket_arn=peer_config,
        peer_audit_bucket_arn=peer_audit,
        peer_data_key_arn=peer_key,
        replicate_condition=REPLICATE_CONDITION,
    )
