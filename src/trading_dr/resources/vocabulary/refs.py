"""References handed between builders: props in, refs out (CDK style).

Builders never look up each other's resources by logical id; `stacks` passes these.
Values are troposphere Ref/GetAtt (or Sub) objects, never hand-built ARN strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import AWSHelperFn

# Stage parameters are declared lazily by the template they feed; see inputs.py.
from trading_dr.resources.vocabulary.inputs import StageInputs


@dataclass(frozen=True)
class KeyRefs:
    """Customer-managed KMS keys of one region."""

    data_key_arn: AWSHelperFn  # Aurora, S3, SQS, SNS, secrets
    data_key_id: AWSHelperFn
    logs_key_arn: AWSHelperFn  # CloudWatch Logs (the logs service principal may use it)


@dataclass(frozen=True)
class NetworkRefs:
    vpc_id: AWSHelperFn
    public_subnet_ids: tuple[AWSHelperFn, ...]
    private_subnet_ids: tuple[AWSHelperFn, ...]
    lambda_sg_id: AWSHelperFn  # every function in the VPC
    db_sg_id: AWSHelperFn  # Aurora: 5432 from lambda_sg only
    private_route_table_ids: tuple[AWSHelperFn, ...]


@dataclass(frozen=True)
class DatabaseRefs:
    cluster_id: AWSHelperFn
    cluster_arn: AWSHelperFn
    cluster_resource_id: AWSHelperFn  # IAM database authentication scopes to it
    endpoint: AWSHelperFn
    reader_endpoint: AWSHelperFn
    port: AWSHelperFn
    # RDS-managed master secret; None in the secondary, which holds no credentials.
    secret_arn: AWSHelperFn | None


@dataclass(frozen=True)
class StorageRefs:
    config_bucket: AWSHelperFn
    config_bucket_arn: AWSHelperFn
    audit_bucket: AWSHelperFn
    audit_bucket_arn: AWSHelperFn
    replication_role_arn: AWSHelperFn


@dataclass(frozen=True)
class QueueRefs:
    """The trade queue and its dead-letter queue."""

    queue_url: AWSHelperFn
    queue_arn: AWSHelperFn
    queue_name: AWSHelperFn
    dlq_url: AWSHelperFn
    dlq_arn: AWSHelperFn
    dlq_name: AWSHelperFn


@dataclass(frozen=True)
class FunctionRefs:
    """One Lambda function (functions.add_function returns it)."""

    name: AWSHelperFn  # Ref: the function name
    arn: AWSHelperFn
    role_arn: AWSHelperFn
    log_group_name: AWSHelperFn


@dataclass(frozen=True)
class ApiRefs:
    """The REST API and its custom domains.

    Two custom domains per region: `failover_domain` (api.<domain>, the same name in both
    regions, which the Route 53 failover records point at) and `regional_domain`
    (<region>.api.<domain>, only this region, which the health check probes so that it
    tests this region and not whichever one DNS currently answers with).
    """

    rest_api_id: AWSHelperFn
    stage_name: str
    failover_domain: str
    regional_domain: str
    # Alias target of the failover record: the failover domain's regional endpoint.
    failover_target_dns: AWSHelperFn
    failover_target_zone_id: AWSHelperFn
    regional_target_dns: AWSHelperFn
    regional_target_zone_id: AWSHelperFn


@dataclass(frozen=True)
class GlobalRefs:
    """What the global template exports to the regional stages."""

    hosted_zone_id: AWSHelperFn
    global_cluster_id: AWSHelperFn
    sessions_table_name: AWSHelperFn
    sessions_table_arn: AWSHelperFn


__all__ = [
    "AWSHelperFn",
    "ApiRefs",
    "DatabaseRefs",
    "FunctionRefs",
    "GlobalRefs",
    "KeyRefs",
    "NetworkRefs",
    "QueueRefs",
    "StageInputs",
    "StorageRefs",
]
