"""The templates (global, primary, secondary, observer): the ONLY place that orders
builders and wires refs between them.

Every difference between the primary and the secondary region is decided in
`REGIONAL_PROFILES` below, so a reviewer reads the asymmetry in one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from troposphere import GetAtt, Join, Output, Template

from trading_dr.config import Environment, Role
from trading_dr.resources.api import add_api
from trading_dr.resources.application import (
    PROCESSOR_TIMEOUT_S,
    ApplicationProps,
    ApplicationRefs,
    add_application,
)
from trading_dr.resources.database import add_database, add_global_cluster, peer_member_cluster_arn
from trading_dr.resources.dns import NAME_SERVERS_OUTPUT, add_alias_record, add_hosted_zone
from trading_dr.resources.failover.machine import WorkflowTargets, add_failover_workflow
from trading_dr.resources.functions import Artifacts
from trading_dr.resources.journal import add_journal_table
from trading_dr.resources.keys import add_keys
from trading_dr.resources.monitoring import (
    add_audit_outbox_alarm,
    add_error_rate_alarm,
    add_journal_rpo_alarm,
    add_monitoring,
)
from trading_dr.resources.network import add_network
from trading_dr.resources.observer import add_observer
from trading_dr.resources.parameters import add_string_parameter
from trading_dr.resources.queues import add_queues
from trading_dr.resources.quorum import add_quorum
from trading_dr.resources.readiness import HEALTH_CHECK_ID_PARAMETER, ValidatorInputs, add_validator
from trading_dr.resources.routing import add_routing
from trading_dr.resources.sessions import add_sessions_table
from trading_dr.resources.storage import add_storage
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.inputs import StageInputs, add_stage_inputs
from trading_dr.resources.vocabulary.refs import (
    ApiRefs,
    AWSHelperFn,
    DatabaseRefs,
    KeyRefs,
    NetworkRefs,
    QueueRefs,
    StorageRefs,
)
from trading_dr.suppressions import apply_suppressions


@dataclass(frozen=True)
class RegionalProfile:
    """What differs between the primary and the secondary template; nothing else does."""

    # The writer cluster holds the master credentials (RDS-managed secret); the
    # secondary member has none and is promoted by failover, keeping its own KMS key.
    db_writer: bool
    description: str
    # Resources only this role has: the writer's generated master secret and the schema
    # migrator that reads it.
    only_here: frozenset[str] = frozenset()
    # Route 53 failover role of this region's record for the API name.
    failover_record: str = "PRIMARY"
    # Whether the peer-unhealthy alarm starts the unplanned failover workflow here. Only
    # the secondary: failing back to the primary is a planned decision, never automatic.
    start_failover_on_peer_unhealthy: bool = False


REGIONAL_PROFILES: dict[Role, RegionalProfile] = {
    Role.PRIMARY: RegionalProfile(
        db_writer=True,
        description="primary region: Aurora writer; replicates S3 to the secondary once linked",
        only_here=frozenset(
            {"DbMasterSecret", "MigrateFunction", "MigrateFunctionLogGroup", "MigrateFunctionRole"}
        ),
    ),
    Role.SECONDARY: RegionalProfile(
        db_writer=False,
        description="secondary region: Aurora secondary member; replicates S3 back to the "
        "primary for failback",
        failover_record="SECONDARY",
        start_failover_on_peer_unhealthy=True,
    ),
}

STACK_ORDER = (Role.GLOBAL, Role.PRIMARY, Role.SECONDARY, Role.OBSERVER)


def _output(template: Template, name: str, value: AWSHelperFn | str, description: str) -> None:
    template.add_output(Output(name, Value=value, Description=description))


def _new_template(ctx: StackContext, what: str) -> Template:
    template = Template(
        Description=f"trading-dr {ctx.env.suffix} {ctx.role.value} ({ctx.region}): {what}"
    )
    template.set_version("2010-09-09")
    template.set_metadata(ctx.metadata())
    return template


def build_global(env: Environment) -> Template:
    ctx = StackContext(env, Role.GLOBAL)
    template = _new_template(
        ctx,
        "hosted zone, Aurora global cluster, sessions and trade journal global tables "
        "(deployed once)",
    )
    zone_id = add_hosted_zone(template, ctx)
    cluster_id = add_global_cluster(template, ctx)
    table_name, table_arn = add_sessions_table(template, ctx)
    journal_name, journal_arn = add_journal_table(template, ctx)
    _output(template, "HostedZoneId", zone_id, "Route 53 zone of the API failover records")
    if env.hosted_zone_id is None:
        # A new zone answers nothing until the parent delegates to these servers (and ACM
        # cannot validate before that): the deployer prints them and waits.
        _output(
            template,
            NAME_SERVERS_OUTPUT,
            Join(",", GetAtt("HostedZone", "NameServers")),
            "Name servers of the new zone, to delegate to from the parent zone",
        )
    _output(template, "GlobalClusterIdentifier", cluster_id, "Aurora global cluster id")
    _output(template, "SessionsTableName", table_name, "Sessions global table name")
    _output(template, "SessionsTableArn", table_arn, "Sessions global table ARN (this region)")
    _output(template, "JournalTableName", journal_name, "Intake journal global table name")
    _output(template, "JournalTableArn", journal_arn, "Intake journal table ARN (this region)")
    apply_suppressions(template)
    return template


def build_observer(env: Environment) -> Template:
    ctx = StackContext(env, Role.OBSERVER)
    template = _new_template(
        ctx, "observer: probes both regions' liveness from a third region (failover quorum)"
    )
    observer = add_observer(template, ctx)
    _output(template, "ObserverFunctionArn", observer.function.arn, "The observer's probe")
    apply_suppressions(template)
    return template


def build_regional(env: Environment, role: Role, code_keys: Mapping[str, str]) -> Template:
    """One region's template; `code_keys` maps each function to its zip's S3 key."""
    profile = REGIONAL_PROFILES[role]
    ctx = StackContext(env, role)
    template = _new_template(ctx, profile.description)
    inputs = add_stage_inputs(template, ctx)
    keys = add_keys(template, ctx)
    network = add_network(template, ctx, keys)
    db = add_database(
        template, ctx, network, keys, inputs.global_cluster_id, writer=profile.db_writer
    )
    storage = add_storage(template, ctx, keys, inputs)
    queues = add_queues(template, ctx, keys, PROCESSOR_TIMEOUT_S)
    app = add_application(
        template, ctx, ApplicationProps(
            network, keys, db, storage, queues, inputs.sessions_table_name,
            inputs.journal_table_name, Artifacts(inputs.artifact_bucket, code_keys),
        ),
    )  # fmt: skip
    api = add_api(template, ctx, keys, inputs.hosted_zone_id, app.intake, app.health)
    add_alias_record(
        template, "RegionalApiRecord", inputs.hosted_zone_id, api.regional_domain,
        api.regional_target_dns, api.regional_target_zone_id,
    )  # fmt: skip
    add_string_parameter(
        template,
        ctx,
        "DbEndpointParameter",
        "db-endpoint",
        db.endpoint,
        f"Aurora cluster endpoint in {ctx.region}",
    )
    failover = _add_failover(template, ctx, profile, inputs, network, keys, db, storage,
                             queues, app, api, code_keys)  # fmt: skip

    _add_regional_outputs(template, network, keys, db, storage, queues, api, app, failover)
    apply_suppressions(template)
    return template


def _add_regional_outputs(
    template: Template, network: NetworkRefs, keys: KeyRefs, db: DatabaseRefs,
    storage: StorageRefs, queues: QueueRefs, api: ApiRefs, app: ApplicationRefs,
    failover: _FailoverParts,
) -> None:  # fmt: skip
    """What later stages, the deployer and operators read from a regional stack."""
    _output(template, "VpcId", network.vpc_id, "VPC id")
    _output(
        template,
        "PrivateSubnetIds",
        Join(",", list(network.private_subnet_ids)),
        "Private subnet ids, comma-separated",
    )
    _output(template, "LambdaSecurityGroupId", network.lambda_sg_id, "Security group of functions")
    _output(template, "DataKeyArn", keys.data_key_arn, "KMS key for data at rest in this region")
    _output(template, "LogsKeyArn", keys.logs_key_arn, "KMS key for CloudWatch Logs")
    _output(template, "DbClusterArn", db.cluster_arn, "Aurora member cluster ARN")
    _output(template, "DbClusterEndpoint", db.endpoint, "Aurora cluster endpoint in this region")
    _output(template, "DbReaderEndpoint", db.reader_endpoint, "Aurora reader endpoint")
    if db.secret_arn is not None:
        _output(template, "DbSecretArn", db.secret_arn, "generated master user secret")
    _output(template, "ConfigBucketName", storage.config_bucket, "Config bucket name")
    _output(template, "ConfigBucketArn", storage.config_bucket_arn, "Config bucket ARN")
    _output(template, "AuditBucketName", storage.audit_bucket, "Audit bucket name")
    _output(template, "AuditBucketArn", storage.audit_bucket_arn, "Audit bucket ARN")
    _output(template, "ReplicationRoleArn", storage.replication_role_arn, "S3 replication role ARN")
    _output(template, "TradeQueueUrl", queues.queue_url, "Trade queue URL")
    _output(template, "TradeDeadLetterQueueUrl", queues.dlq_url, "Trade dead-letter queue URL")
    _output(template, "ApiFailoverDomain", api.failover_domain, "API name clients use")
    _output(template, "ApiRegionalDomain", api.regional_domain, "This region's own API name")
    if app.migrate is not None:
        _output(template, "MigrateFunctionName", app.migrate.name, "Invoke once per rollout")
    _output(template, "AlarmTopicArn", failover.topic_arn, "Alarm and failover notifications")
    _output(template, "HealthCheckId", failover.health_check_id, "Route 53 check of /health here")
    _output(
        template, "FenceHealthCheckId", failover.fence_health_check_id,
        "Route 53 check that fails once this region fenced its peer (the peer's stage input)",
    )  # fmt: skip
    _output(
        template, "FailoverStateMachineArn", failover.state_machine_arn,
        "Failover workflow moving the writer here (trading-dr failover)",
    )  # fmt: skip


@dataclass(frozen=True)
class _FailoverParts:
    topic_arn: AWSHelperFn
    health_check_id: AWSHelperFn
    fence_health_check_id: AWSHelperFn
    state_machine_arn: AWSHelperFn


def _add_failover(
    template: Template, ctx: StackContext, profile: RegionalProfile, inputs: StageInputs,
    network: NetworkRefs, keys: KeyRefs, db: DatabaseRefs, storage: StorageRefs,
    queues: QueueRefs, app: ApplicationRefs, api: ApiRefs, code_keys: Mapping[str, str],
) -> _FailoverParts:  # fmt: skip
    """Alarms, Route 53 failover, the validator and the failover workflow (issue 4)."""
    monitoring = add_monitoring(
        template, ctx, db.cluster_id,
        {"intake": app.intake, "processor": app.processor, "health": app.health,
         "shipper": app.shipper, "reconciler": app.reconciler},
        queues, api.stage_name, inputs.sessions_table_name, ("config", "audit"),
    )  # fmt: skip
    routing = add_routing(template, ctx, api, inputs, profile.failover_record, monitoring.topic_arn)
    add_string_parameter(
        template, ctx, "HealthCheckIdParameter", HEALTH_CHECK_ID_PARAMETER,
        routing.health_check_id, f"Route 53 health check of {ctx.regional_domain}/health",
    )  # fmt: skip
    validator = add_validator(
        template, ctx, network, keys, Artifacts(inputs.artifact_bucket, code_keys), inputs,
        ValidatorInputs(
            global_cluster_id=inputs.global_cluster_id, db=db,
            sessions_table=inputs.sessions_table_name,
            config_bucket=storage.config_bucket, config_bucket_arn=storage.config_bucket_arn,
            audit_bucket=storage.audit_bucket, audit_bucket_arn=storage.audit_bucket_arn,
            health_check_id=routing.health_check_id,
        ),
    )  # fmt: skip
    # The validator decides on failover: its own failures must page someone too.
    add_error_rate_alarm(template, ctx, "validator", validator, monitoring.topic_arn)
    add_audit_outbox_alarm(template, ctx, monitoring.topic_arn)
    add_journal_rpo_alarm(template, ctx, monitoring.topic_arn)
    quorum = add_quorum(template, ctx, monitoring)
    targets = WorkflowTargets(
        inputs.global_cluster_id, db.cluster_arn, peer_member_cluster_arn(ctx), validator,
        monitoring,
    )  # fmt: skip
    workflow = add_failover_workflow(
        template, ctx, targets, keys.logs_key_arn, quorum.quorum_alarm_arn,
        profile.start_failover_on_peer_unhealthy,
    )  # fmt: skip
    return _FailoverParts(
        topic_arn=monitoring.topic_arn,
        health_check_id=routing.health_check_id,
        fence_health_check_id=routing.fence_health_check_id,
        state_machine_arn=workflow.state_machine_arn,
    )


def build_templates(env: Environment, code_keys: Mapping[str, str]) -> dict[Role, Template]:
    """All three templates of an environment, in rollout order."""
    builders = {Role.GLOBAL: build_global, Role.OBSERVER: build_observer}
    return {
        role: builders[role](env) if role in builders else build_regional(env, role, code_keys)
        for role in STACK_ORDER
    }
